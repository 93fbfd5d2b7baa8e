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
import io.netty.channel.unix.RawUnixChannelOption;
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
import java.nio.channels.NetworkChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Serving a region of a shm extent to loopback clients by each {@link SendMechanism}: throughput and CPU per GiB.
 * Not a test (the build does not run it); see {@code splice/README.md} for how to run it and the measured tables.
 *
 * <p>One Netty io_uring loop sends the same region (by default 1 KiB, 64 KiB, 1 MiB and 64 MiB, from a populated
 * memfd store; the heap store's WRITE as the reference row) over and over on each of its connections, the next send
 * starting from the previous one's callback. Each client is a plain Java thread on the accepted blocking
 * {@link SocketChannel}: by default it calls recv(fd, buf, 1 MiB, MSG_TRUNC) through FFM, which for TCP consumes the
 * bytes without copying them to user space; with {@code -Dbench.client=copy} it reads into one reused 1 MiB direct
 * buffer instead. The clients' CPU is measured on its own (ThreadMXBean) and shown apart.
 *
 * <p>Properties: {@code bench.sizes} (e.g. {@code 1k,64k,1m,64m}), {@code bench.mechanisms} (all four), {@code
 * bench.heap} (true), {@code bench.connections} (1), {@code
 * bench.repeats} (3: the whole sweep runs that often, the table shows each column's median), {@code bench.cc}
 * (TCP_CONGESTION set on the sending sockets before they connect and on the listening socket, so that both ends use
 * it; default: the system's). Every row reads the sending socket's algorithm back with
 * {@link Splicer#congestionControl} and prints it.
 *
 * <p>Columns: GiB/s received by the clients; process CPU seconds per GiB (utime+stime of /proc/self/stat, includes
 * io-wq workers and softirq charged to our threads); the clients' share (ThreadMXBean); the server side as the
 * difference; system-wide softirq seconds per GiB from /proc/stat (the machine is otherwise idle, hopefully); for
 * SEND_ZC the notifications that reported the kernel copied (loopback always does) against the sends; fallbacks.
 */
public final class SendBench {
    private static final long GIB = 1L << 30;
    private static final long CLK_TCK = 100; // getconf CLK_TCK on Linux x86_64
    private static final int MSG_TRUNC = 0x20;
    private static final int IPPROTO_TCP = 6;
    private static final int TCP_CONGESTION = 13;
    /** Client mode: recv(MSG_TRUNC) (TCP discards the bytes without copying them) unless -Dbench.client=copy. */
    private static final boolean TRUNCATE = !"copy".equals(System.getProperty("bench.client", "trunc"));
    private static final String CC = System.getProperty("bench.cc", "");
    private static final int CONNECTIONS = Integer.getInteger("bench.connections", 1);
    private static final int REPEATS = Integer.getInteger("bench.repeats", 3);
    /** Mechanisms to measure from the memfd store, e.g. {@code sendfile,splice}; default all. */
    private static final List<SendMechanism> MECHANISMS = Arrays.stream(
                    System.getProperty("bench.mechanisms", "write,send_zc,splice,sendfile").split(","))
            .map(t -> SendMechanism.valueOf(t.trim().toUpperCase(Locale.ROOT))).toList();
    /** Whether to add the heap store's WRITE as the reference row ({@code -Dbench.heap=false}: no). */
    private static final boolean HEAP = Boolean.parseBoolean(System.getProperty("bench.heap", "true"));
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle RECV = LINKER.downcallHandle(LINKER.defaultLookup().find("recv").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                    ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    private static final MethodHandle SETSOCKOPT = LINKER.downcallHandle(
            LINKER.defaultLookup().find("setsockopt").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));

    private SendBench() {
    }

    record Snapshot(long nanos, long received, long processTicks, long clientCpuNanos, long softirqTicks,
                    long zcCopied, long sends, long fallbacks) {}

    /** One measured row; the numbers of the table. */
    record Row(String store, SendMechanism mech, long size, String cc, double gibPerSec, double process,
               double client, double server, double softirq, long zcCopied, long sends, long fallbacks) {
        String key() {
            return store + "/" + mech.tag() + "/" + size;
        }
    }

    public static void main(String[] args) throws Exception {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 4;
        double warmup = args.length > 1 ? Double.parseDouble(args[1]) : 1;
        long[] sizes = Arrays.stream(System.getProperty("bench.sizes", "1k,64k,1m,64m").split(","))
                .mapToLong(SendBench::parseSize).toArray();
        long largest = Arrays.stream(sizes).max().orElseThrow();
        MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, IoUringIoHandler.newFactory());
        EventLoop loop = group.next();
        SpliceMetrics metrics = new SpliceMetrics();
        Splicer splicer = loop.submit(() -> Splicer.forLoop(loop, SpliceSettings.defaults(), metrics)).get();
        if (!Splicer.isAvailable()) {
            throw new IllegalStateException("splicing unavailable", Splicer.unavailabilityCause());
        }
        long storeBytes = largest + (8L << 20);
        Map<String, List<Row>> rows = new LinkedHashMap<>();
        try (Segments memfd = ShmBuilder.newBuilder().totalBytes(storeBytes).loops(1).lockPolicy(LockPolicy.TRY)
                .name("sendbench").build();
             Segments heap = ShmBuilder.newBuilder().totalBytes(storeBytes).loops(1).heap().name("sendbench-heap")
                     .build();
             ServerSocketChannel server = ServerSocketChannel.open()) {
            if (!CC.isEmpty()) {
                setCongestion(fdOf(server), CC); // accepted sockets inherit it
            }
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
            System.out.printf("# %s, Java %s, %d cpus, %.1f s per row after %.1f s warm-up, %d connection(s), "
                            + "%d repeat(s), cc %s (system: %s), memfd locked bytes %d, client %s%n", kernel(),
                    Runtime.version(), Runtime.getRuntime().availableProcessors(), seconds, warmup, CONNECTIONS,
                    REPEATS, CC.isEmpty() ? "the system's" : CC + " per socket", systemCongestion(),
                    memfd.store(0).stats().lockedBytes(),
                    TRUNCATE ? "recv(MSG_TRUNC), no copy" : "SocketChannel.read into a reused 1 MiB direct buffer");
            String header = "| store | mechanism | region | cc | GiB/s | CPU s/GiB (process) | client s/GiB "
                    + "| server s/GiB | softirq s/GiB (system) | SEND_ZC notifications \"copied\" / sends "
                    + "| fallbacks |\n|---|---|---|---|---|---|---|---|---|---|---|";
            System.out.println(header);
            for (int rep = 0; rep < REPEATS; rep++) {
                for (long size : sizes) {
                    Extent m = fill(loop, memfd.store(0), size);
                    Extent h = fill(loop, heap.store(0), size);
                    for (SendMechanism mech : MECHANISMS) {
                        add(rows, row(loop, splicer, metrics, server, "memfd", m, mech, seconds, warmup));
                    }
                    if (HEAP) {
                        add(rows, row(loop, splicer, metrics, server, "heap", h, SendMechanism.WRITE, seconds,
                                warmup));
                    }
                    awaitReleased(m);
                    awaitReleased(h);
                    loop.submit(() -> {
                        m.free();
                        h.free();
                    }).get();
                }
            }
            if (REPEATS > 1) {
                System.out.printf("%n# medians of %d runs (each column on its own; SEND_ZC and fallback counts "
                        + "summed)%n%s%n", REPEATS, header);
                for (List<Row> runs : rows.values()) {
                    print(median(runs));
                }
            }
        } finally {
            loop.submit(splicer::close).get();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private static void add(Map<String, List<Row>> rows, Row r) {
        rows.computeIfAbsent(r.key(), k -> new ArrayList<>()).add(r);
        print(r);
    }

    private static Row median(List<Row> runs) {
        Row first = runs.getFirst();
        return new Row(first.store, first.mech, first.size, first.cc,
                median(runs.stream().mapToDouble(Row::gibPerSec).toArray()),
                median(runs.stream().mapToDouble(Row::process).toArray()),
                median(runs.stream().mapToDouble(Row::client).toArray()),
                median(runs.stream().mapToDouble(Row::server).toArray()),
                median(runs.stream().mapToDouble(Row::softirq).toArray()),
                runs.stream().mapToLong(Row::zcCopied).sum(), runs.stream().mapToLong(Row::sends).sum(),
                runs.stream().mapToLong(Row::fallbacks).sum());
    }

    private static double median(double[] v) {
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static void print(Row r) {
        System.out.printf(Locale.ROOT, "| %s | %s | %s | %s | %.2f | %.3f | %.3f | %.3f | %.3f | %s | %d |%n",
                r.store, r.mech.tag(), sizeName(r.size), r.cc, r.gibPerSec, r.process, r.client, r.server,
                r.softirq, r.mech == SendMechanism.SEND_ZC ? r.zcCopied + " / " + r.sends : "-", r.fallbacks);
    }

    private static long parseSize(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        long unit = t.endsWith("k") ? 1L << 10 : t.endsWith("m") ? 1L << 20 : t.endsWith("g") ? 1L << 30 : 1;
        return Long.parseLong(unit == 1 ? t : t.substring(0, t.length() - 1)) * unit;
    }

    private static String sizeName(long size) {
        return size >= (1L << 20) && size % (1L << 20) == 0 ? (size >> 20) + " MiB"
                : size >= 1024 && size % 1024 == 0 ? (size >> 10) + " KiB" : size + " B";
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

    private static Row row(EventLoop loop, Splicer splicer, SpliceMetrics metrics, ServerSocketChannel server,
                           String storeName, Extent extent, SendMechanism mech, double seconds, double warmup)
            throws Exception {
        AtomicLong received = new AtomicLong();
        List<Channel> channels = new ArrayList<>();
        List<SocketChannel> peers = new ArrayList<>();
        List<Thread> clients = new ArrayList<>();
        List<Sender> senders = new ArrayList<>();
        for (int i = 0; i < CONNECTIONS; i++) {
            Bootstrap b = new Bootstrap().group(loop).channel(IoUringSocketChannel.class)
                    .option(ChannelOption.AUTO_READ, false).handler(new ChannelInboundHandlerAdapter());
            if (!CC.isEmpty()) {
                byte[] name = CC.getBytes(StandardCharsets.US_ASCII);
                b.option(new RawUnixChannelOption("TCP_CONGESTION", IPPROTO_TCP, TCP_CONGESTION, name.length),
                        ByteBuffer.wrap(name));
            }
            Channel ch = b.connect(server.getLocalAddress()).sync().channel();
            SocketChannel peer = server.accept();
            channels.add(ch);
            peers.add(peer);
            Thread client = new Thread(() -> receive(peer, received), "bench-client-" + i);
            clients.add(client);
            client.start();
        }
        String cc = loop.submit(() -> Splicer.congestionControl(channels.getFirst())).get();
        if (!CC.isEmpty() && !CC.equals(cc)) {
            throw new IllegalStateException("TCP_CONGESTION " + CC + " did not take: the socket uses " + cc);
        }
        for (Channel ch : channels) {
            Sender sender = new Sender(splicer, extent, ch, mech);
            senders.add(sender);
            loop.execute(sender::next);
        }
        Thread.sleep((long) (warmup * 1000));
        Snapshot a = snapshot(received, clients, metrics, mech);
        Thread.sleep((long) (seconds * 1000));
        Snapshot b = snapshot(received, clients, metrics, mech);
        for (Sender s : senders) {
            s.stop = true;
        }
        for (Sender s : senders) {
            s.stopped.get(30, TimeUnit.SECONDS);
        }
        for (Channel ch : channels) {
            ch.close().sync();
        }
        for (Thread client : clients) {
            client.join(10_000);
        }
        for (SocketChannel peer : peers) {
            peer.close();
        }

        double gib = (double) (b.received - a.received) / GIB;
        double wall = (b.nanos - a.nanos) / 1e9;
        double process = (double) (b.processTicks - a.processTicks) / CLK_TCK;
        double clientCpu = (b.clientCpuNanos - a.clientCpuNanos) / 1e9;
        double softirq = (double) (b.softirqTicks - a.softirqTicks) / CLK_TCK;
        return new Row(storeName, mech, extent.length(), cc, gib / wall, process / gib, clientCpu / gib,
                (process - clientCpu) / gib, softirq / gib, b.zcCopied - a.zcCopied, b.sends - a.sends,
                b.fallbacks - a.fallbacks);
    }

    private static void receive(SocketChannel peer, AtomicLong received) {
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
    }

    private static Snapshot snapshot(AtomicLong received, List<Thread> clients, SpliceMetrics metrics,
                                     SendMechanism mech) throws IOException {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        long clientCpu = 0;
        for (Thread t : clients) {
            clientCpu += threads.getThreadCpuTime(t.threadId());
        }
        return new Snapshot(System.nanoTime(), received.get(), processTicks(), clientCpu, softirqTicks(),
                metrics.sendZcCopied(), metrics.sends(mech), metrics.fallbacksTotal());
    }

    /** The fd of a JDK socket channel (needs --add-exports java.base/sun.nio.ch=ALL-UNNAMED). */
    private static int fdOf(NetworkChannel ch) {
        try {
            return (int) Class.forName("sun.nio.ch.SelChImpl").getMethod("getFDVal").invoke(ch);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("run with --add-exports java.base/sun.nio.ch=ALL-UNNAMED", e);
        }
    }

    /** TCP_CONGESTION on the listening socket; the sockets it accepts inherit it. */
    private static void setCongestion(int fd, String algorithm) {
        int r;
        try (Arena arena = Arena.ofConfined()) {
            byte[] name = algorithm.getBytes(StandardCharsets.US_ASCII);
            MemorySegment value = arena.allocateFrom(ValueLayout.JAVA_BYTE, name);
            r = (int) SETSOCKOPT.invokeExact(fd, IPPROTO_TCP, TCP_CONGESTION, value, name.length);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (r != 0) {
            throw new IllegalStateException("setsockopt(TCP_CONGESTION, " + algorithm + ") failed on the listener");
        }
    }

    private static String systemCongestion() {
        try {
            return Files.readString(Path.of("/proc/sys/net/ipv4/tcp_congestion_control")).trim();
        } catch (IOException e) {
            return "?";
        }
    }

    /** utime + stime of this process, in clock ticks (fields 14 and 15 of /proc/self/stat). */
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
