/**
 * Zero-copy forwarding on Netty's io_uring event loops: socket to socket through pooled pipes, and shm extents to
 * sockets, with SQEs the module submits itself on the channels' own ring.
 *
 * <h2>Surface</h2>
 * <ul>
 *   <li>{@link dev.sluice.splice.Splicer}: one per event loop ({@code forLoop}, on the loop). {@code transfer} splices
 *       an exact byte count (HTTP bodies), {@code pump} splices until EOF then half-closes the output (L4 routes, one
 *       pump per direction), {@code send} moves a region of a shm extent by {@link dev.sluice.splice.SendMechanism}.
 *       {@code null} from transfer/pump means "copy instead", with {@code lastFallbackReason()} and a counted
 *       fallback; {@code isAvailable()}/{@code unavailabilityCause()} and {@code canSplice(Channel)} probe in
 *       Netty's style; {@code congestionControl(Channel)} reads a socket's TCP congestion control, on which the
 *       cheapest send mechanism depends. {@code tee} stores a cache miss into an extent while splicing it to the
 *       client that caused it ({@link dev.sluice.splice.TeeFill}; {@code null}: receive instead).</li>
 *   <li>{@link dev.sluice.splice.SpliceCallback}: runs once on the loop, after every SQE of the transfer completed
 *       (so the caller may close the channels in it); the cause is null or one of the
 *       {@link dev.sluice.splice.SpliceException} subclasses.</li>
 *   <li>{@link dev.sluice.splice.SpliceTransfer}: {@code cancel()} (any thread) and {@code bytesMoved()}.</li>
 *   <li>{@link dev.sluice.splice.SpliceSettings} and {@link dev.sluice.splice.SpliceMetrics} ({@code bindTo} a
 *       Micrometer registry with the caller's tags).</li>
 * </ul>
 *
 * <h2>Decisions</h2>
 * <ul>
 *   <li>No linked SQE chains (a short splice fails the rest of a chain): each step is submitted from the previous
 *       step's completion; a fill ({@code in -> pipe}) and a drain ({@code pipe -> out}) may overlap.</li>
 *   <li>Sockets are made O_NONBLOCK once and left so: Netty's io_uring channels treat EAGAIN from their own SQEs as
 *       "arm a poll", which is how its connected channels (always non-blocking) already work; accepted sockets
 *       start blocking, which would park an io-wq worker inside a splice.</li>
 *   <li>Netty's one-shot POLLRDHUP is cancelled for the duration of a transfer and re-armed after a successful one:
 *       on a peer FIN Netty reads the socket regardless of AUTO_READ, which would steal body bytes from under the
 *       splice. If it already fired, the transfer is refused ({@code peer_closing}) and the caller copies. A
 *       transfer started with {@code watchOutput} puts its own POLL_ADD(POLLRDHUP) on the output once it has moved
 *       nothing for 250 ms, so a peer that leaves while the input stalls ends it
 *       ({@link dev.sluice.splice.OutputClosedException}) before the idle timeout.</li>
 *   <li>Cancellation (explicit, channel close, idle timeout, splicer close) submits ASYNC_CANCEL for every
 *       in-flight operation and waits for all CQEs; bytes a failed transfer left in its pipe are read and discarded
 *       (their count is exact once nothing is in flight), or the pipe is closed.</li>
 * </ul>
 */
package dev.sluice.splice;
