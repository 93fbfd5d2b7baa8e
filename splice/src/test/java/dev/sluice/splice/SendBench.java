package dev.sluice.splice;

import dev.sluice.shm.Extent;
import dev.sluice.shm.LockPolicy;
import dev.sluice.shm.Segments;
import dev.sluice.shm.ShmBuilder;
import dev.sluice.shm.Store;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringSocketChannel;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Serving a region of a shm extent to a loopback client by each {@link SendMechanism}: throughput and CPU per GiB.
 * Not a test (the build does not run it); see {@code splice/README.md} for how to run it and the measured table.
 *
 * <p>One Netty io_uring loop sends the same region (1 MiB or 64 MiB, from a populated memfd store; the heap store's
 * WRITE as the reference row) over and over on one connection, the next send starting from the previous one's
 * callback. The client is a plain Java thread on the accepted blocking {@link SocketChannel}: by default it calls
 * recv(fd, buf, 1 MiB, MSG_TRUNC) through FFM, which for TCP consumes the bytes without copying them to user space;
 * with {@code -Dbench.client=copy} it reads into one reused 1 MiB direct buffer instead. Its CPU is measured on its
 * own (ThreadMXBean) and shown apart.
 *
 * <p>Columns: GiB/s received by the client; process CPU seconds per GiB (utime+stime of /proc/self/stat, includes
 * io-wq workers and softirq charged to our threads); the client thread's share (ThreadMXBean); the server side as
 * the difference; system-wide softirq seconds per GiB from /proc/stat (the machine is otherwise idle, hopefully);
 * and for SEND_ZC the notifications that reported the kernel copied (loopback always does).
 */
public final class SendBench {
    private static final long GIB = 1L << 30;
    private static final long CLK_TCK = 100; // getconf CLK_TCK on Linux x86_64
    private static final int MSG_TRUNC = 0x20;
    /** Client mode: recv(MSG_TRUNC) (TCP discards the bytes without copying them) unless -Dbench.client=copy. */
    private static final boolean TRUNCATE = !"copy".equals(System.getProperty("bench.client", "trunc"));
    private static final MethodHandle RECV = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("recv").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                    ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));

    private SendBench() {
    }

    record Snapshot(long nanos, long received, long processTicks, long clientCpuNanos, long softirqTicks,
                    long zcCopied, long sends, long fallbacks) {}

    public static void main(String[] args) throws Exception {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 4;
        double warmup = args.length > 1 ? Double.parseDouble(args[1]) : 1;
        MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, IoUringIoHandler.newFactory());
        EventLoop loop = group.next();
        SpliceMetrics metrics = new SpliceMetrics();
        Splicer splicer = loop.submit(() -> Splicer.forLoop(loop, SpliceSettings.defaults(), metrics)).get();
        if (!Splicer.isAvailable()) {
            throw new IllegalStateException("splicing unavailable", Splicer.unavailabilityCause());
        }
        long[] sizes = {1L << 20, 64L << 20};
        try (Segments memfd = ShmBuilder.newBuilder().totalBytes(72L << 20).loops(1).lockPolicy(LockPolicy.TRY)
                .name("sendbench").build();
             Segments heap = ShmBuilder.newBuilder().totalBytes(72L << 20).loops(1).heap().name("sendbench-heap")
                     .build();
             ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            System.out.printf("# %s, Java %s, %d cpus, %.1f s per row after %.1f s warm-up, memfd locked bytes %d, "
                            + "client %s%n", kernel(), Runtime.version(), Runtime.getRuntime().availableProcessors(),
                    seconds, warmup, memfd.store(0).stats().lockedBytes(),
                    TRUNCATE ? "recv(MSG_TRUNC), no copy" : "SocketChannel.read into a reused 1 MiB direct buffer");
            System.out.println("| store | mechanism | region | GiB/s | CPU s/GiB (process) | client s/GiB "
                    + "| server s/GiB | softirq s/GiB (system) | SEND_ZC notifications \"copied\" / sends | fallbacks |");
            System.out.println("|---|---|---|---|---|---|---|---|---|---|");
            for (long size : sizes) {
                Extent m = fill(loop, memfd.store(0), size);
                Extent h = fill(loop, heap.store(0), size);
                for (SendMechanism mech : SendMechanism.values()) {
                    row(loop, splicer, metrics, server, "memfd", m, mech, seconds, warmup);
                }
                row(loop, splicer, metrics, server, "heap", h, SendMechanism.WRITE, seconds, warmup);
                awaitReleased(m);
                awaitReleased(h);
                loop.submit(() -> {
                    m.free();
                    h.free();
                }).get();
            }
        } finally {
            loop.submit(splicer::close).get();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private static Extent fill(EventLoop loop, Store store, long size) throws Exception {
        return loop.submit(() -> { // the loop owns the store
            Extent e = store.allocate(size);
            byte[] chunk = new byte[1 << 20];
            new SplittableRandom(size).nextBytes(chunk);
            for (long off = 0; off < size; off += chunk.length) {
                e.byteBuffer(off, (int) Math.min(chunk.length, size - off)).put(chunk, 0,
                        (int) Math.min(chunk.length, size - off));
            }
            return e;
        }).get();
    }

    private static void awaitReleased(Extent e) throws InterruptedException {
        for (int i = 0; i < 500 && e.refCnt() > 0; i++) {
            Thread.sleep(10);
        }
    }

    private static void row(EventLoop loop, Splicer splicer, SpliceMetrics metrics, ServerSocketChannel server,
                            String storeName, Extent extent, SendMechanism mech, double seconds, double warmup)
            throws Exception {
        Channel ch = new Bootstrap().group(loop).channel(IoUringSocketChannel.class)
                .option(ChannelOption.AUTO_READ, false).handler(new ChannelInboundHandlerAdapter())
                .connect(server.getLocalAddress()).sync().channel();
        SocketChannel peer = server.accept();
        AtomicLong received = new AtomicLong();
        Thread client = new Thread(() -> {
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
            int fd = TRUNCATE ? fdOf(peer) : -1;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment scratch = arena.allocate(1 << 20);
                while (true) {
                    long n = fd >= 0 ? (long) RECV.invokeExact(fd, scratch, scratch.byteSize(), MSG_TRUNC) : -1;
                    if (n < 0) { // copy mode, or recv failed: let Java read (it blocks properly, and sees EOF)
                        buf.clear();
                        n = peer.read(buf);
                    }
                    if (n <= 0) {
                        break;
                    }
                    received.addAndGet(n);
                }
            } catch (Throwable ignored) {
                // closed under us at the end
            }
        }, "bench-client");
        client.start();

        Sender sender = new Sender(splicer, extent, ch, mech);
        loop.execute(sender::next);
        Thread.sleep((long) (warmup * 1000));
        Snapshot a = snapshot(received, client, metrics, mech);
        Thread.sleep((long) (seconds * 1000));
        Snapshot b = snapshot(received, client, metrics, mech);
        sender.stop = true;
        sender.stopped.get(30, TimeUnit.SECONDS);
        ch.close().sync();
        client.join(10_000);
        peer.close();

        double gib = (double) (b.received - a.received) / GIB;
        double wall = (b.nanos - a.nanos) / 1e9;
        double process = (double) (b.processTicks - a.processTicks) / CLK_TCK;
        double clientCpu = (b.clientCpuNanos - a.clientCpuNanos) / 1e9;
        double softirq = (double) (b.softirqTicks - a.softirqTicks) / CLK_TCK;
        String region = extent.length() >= (1L << 20) ? (extent.length() >> 20) + " MiB" : extent.length() + " B";
        System.out.printf("| %s | %s | %s | %.2f | %.3f | %.3f | %.3f | %.3f | %s | %d |%n", storeName, mech.tag(),
                region, gib / wall, process / gib, clientCpu / gib, (process - clientCpu) / gib, softirq / gib,
                mech == SendMechanism.SEND_ZC ? (b.zcCopied - a.zcCopied) + " / " + (b.sends - a.sends)
                        : "-", b.fallbacks - a.fallbacks);
    }

    private static Snapshot snapshot(AtomicLong received, Thread client, SpliceMetrics metrics, SendMechanism mech)
            throws IOException {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        return new Snapshot(System.nanoTime(), received.get(), processTicks(),
                threads.getThreadCpuTime(client.threadId()), softirqTicks(), metrics.sendZcCopied(),
                metrics.sends(mech), metrics.fallbacksTotal());
    }

    /** utime + stime of this process, in clock ticks (fields 14 and 15 of /proc/self/stat). */
    /** The fd of a JDK socket channel (needs --add-exports java.base/sun.nio.ch=ALL-UNNAMED). */
    private static int fdOf(SocketChannel ch) {
        try {
            return (int) Class.forName("sun.nio.ch.SelChImpl").getMethod("getFDVal").invoke(ch);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("run with --add-exports java.base/sun.nio.ch=ALL-UNNAMED", e);
        }
    }

    private static long processTicks() throws IOException {
        String stat = Files.readString(Path.of("/proc/self/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    /** System-wide softirq time in clock ticks (the "cpu" line of /proc/stat, 7th value). */
    private static long softirqTicks() throws IOException {
        String cpu = Files.readAllLines(Path.of("/proc/stat")).getFirst();
        return Long.parseLong(cpu.trim().split("\\s+")[7]);
    }

    private static String kernel() {
        try {
            return "Linux " + Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim();
        } catch (IOException e) {
            return System.getProperty("os.name");
        }
    }

    /** Sends the whole extent again from each callback until stopped; loop-confined except {@link #stop}. */
    private static final class Sender implements SpliceCallback {
        private final Splicer splicer;
        private final Extent extent;
        private final Channel ch;
        private final SendMechanism mech;
        volatile boolean stop;
        final CompletableFuture<Void> stopped = new CompletableFuture<>();

        Sender(Splicer splicer, Extent extent, Channel ch, SendMechanism mech) {
            this.splicer = splicer;
            this.extent = extent;
            this.ch = ch;
            this.mech = mech;
        }

        void next() {
            if (stop) {
                stopped.complete(null);
                return;
            }
            splicer.send(extent, 0, extent.length(), ch, mech, 0, this);
        }

        @Override
        public void done(long moved, Throwable cause) {
            if (cause != null) {
                stopped.completeExceptionally(cause);
                return;
            }
            next();
        }
    }
}
