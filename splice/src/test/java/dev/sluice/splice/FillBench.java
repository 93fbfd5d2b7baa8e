package dev.sluice.splice;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * Storing a cache miss while it is sent to the client: CPU per GiB of "receive into the mapping" against "tee".
 * Not a test (the build does not run it); see {@code splice/README.md} for how to run it and the measured table.
 *
 * <p>Three threads and loopback TCP, all I/O by FFM downcalls on non-blocking sockets with one edge-triggered epoll
 * per thread:
 * <ul>
 * <li>the <b>origin</b> writes objects back to back on each of N connections, each object a slice of one prepared
 * random payload starting at one of 16 offsets (so consecutive objects differ);</li>
 * <li>the <b>proxy</b> (the thread measured) moves each object into a slot of one memfd (MAP_SHARED mapping, as the
 * cache's extent) and to the stream's client connection, by one of the {@link Variant}s;</li>
 * <li>the <b>client</b> reads every byte into a 1 MiB buffer, checks each object's CRC32C against the origin's, and
 * counts the bytes.</li>
 * </ul>
 * After each run every slot of the memfd is checked against the CRC32C of the last object stored in it.
 *
 * <p>Both variants keep at most {@link #WINDOW} (1 MiB, the pipe size) received but not yet taken by the client
 * socket, so they see the same buffering. Each stream fills its own ring of slots, {@link #RING} (64 MiB) of them:
 * one 64 MiB slot, or 64 slots of 1 MiB, so every variant stores into memory it has not touched recently, as a cache
 * fill does. After a sendfile from a slot its pages may still sit in socket buffers (skbs hold references), so
 * RECV_SENDFILE punches a slot out before it receives the next object into it (once a 1-byte MSG_PEEK shows that
 * object has begun), as the store punches spliced extents before reuse, and pays the page faults of the refill.
 * RECV_SENDFILE_NO_PUNCH leaves that out, to show what it costs: it is only safe here because a slot's bytes were
 * sent a whole ring (64 MiB) earlier, more than a socket can hold (tcp_wmem 4 MiB + tcp_rmem 32 MiB at most); the
 * client's CRC32C would show a reused page.
 *
 * <p>Congestion control is set per socket (setsockopt TCP_CONGESTION on all four sockets of a stream, read back),
 * so the system default is not touched. Before each run, and after it, the bench waits while another benchmark is
 * running (a process named bench.sh, haproxy, nginx, varnishd or traffic_server); a run that overlapped one is
 * repeated.
 */
public final class FillBench {
    private static final long GIB = 1L << 30;
    private static final long MIB = 1L << 20;
    private static final long CLK_TCK = 100; // getconf CLK_TCK on Linux x86_64
    /** Most bytes received but not yet accepted by the client socket, in both variants (= the pipe size). */
    static final long WINDOW = Long.getLong("bench.window", MIB);
    /** Largest recv(2) of RECV_*. */
    static final long CHUNK = MIB;
    /**
     * -Dbench.prefault=true: RECV_SENDFILE populates a slot again right after punching it (madvise
     * MADV_POPULATE_WRITE), instead of taking a page fault per 4 KiB page in recv.
     */
    static final boolean PREFAULT = Boolean.getBoolean("bench.prefault");
    /** Bytes of memfd per stream, as slots of the object size. */
    static final long RING = Long.getLong("bench.ringMiB", 64) << 20;
    static final int PIPE_SIZE = (int) MIB;
    private static final int OFFSETS = 16;
    private static final long OFFSET_STEP = 65_537;

    enum Variant {
        /** recv(2) into the mapping, write(2) of the mapping to the client. */
        RECV_WRITE("recv+write"),
        /** recv(2) into the mapping, sendfile(2) from the memfd to the client; a slot is punched before reuse. */
        RECV_SENDFILE("recv+sendfile"),
        /** As RECV_SENDFILE without the punch (safe only in this bench, see the class comment). */
        RECV_SENDFILE_NO_PUNCH("recv+sendfile, no punch"),
        /** splice socket -> pipe1, tee pipe1 -> pipe2, splice pipe1 -> memfd, splice pipe2 -> client. */
        TEE("splice+tee");

        final String tag;

        Variant(String tag) {
            this.tag = tag;
        }
    }

    record Config(String cc, long size, int streams, Variant variant) {
        String key() {
            return cc + " | " + (size >> 20) + " MiB | " + streams + " | " + variant.tag;
        }
    }

    record Result(double gibPerSec, double proxySPerGib, double proxySysShare, double originSPerGib,
                  double clientSPerGib, double softirqSPerGib, double syscallsPerMib, long objects) {}

    record Snapshot(long nanos, long received, long proxyCpu, long originCpu, long clientCpu, long proxyUser,
                    long proxySys, long softirq, long syscalls, long objects) {}

    private FillBench() {
    }

    public static void main(String[] args) throws Exception {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 2;
        double warmup = args.length > 1 ? Double.parseDouble(args[1]) : 0.5;
        int runs = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        List<String> ccs = List.of(System.getProperty("bench.cc", "bbr,cubic").split(","));
        long[] sizes = Arrays.stream(System.getProperty("bench.sizes", "1,64").split(","))
                .mapToLong(s -> Long.parseLong(s) << 20).toArray();
        int[] streamCounts = Arrays.stream(System.getProperty("bench.streams", "1,8").split(","))
                .mapToInt(Integer::parseInt).toArray();
        List<Variant> variants = Arrays.stream(System.getProperty("bench.variants", "").split(","))
                .filter(v -> !v.isEmpty()).map(Variant::valueOf).toList();
        if (variants.isEmpty()) {
            variants = List.of(Variant.values());
        }
        long maxSize = Arrays.stream(sizes).max().orElseThrow();
        int maxStreams = Arrays.stream(streamCounts).max().orElseThrow();

        Sys sys = new Sys();
        Arena arena = Arena.ofShared();
        // the origin's payload: random bytes, objects start at one of OFFSETS offsets
        MemorySegment payload = arena.allocate(maxSize + OFFSETS * OFFSET_STEP, 4096);
        SplittableRandom random = new SplittableRandom(42);
        for (long off = 0; off + 8 <= payload.byteSize(); off += 8) {
            payload.set(ValueLayout.JAVA_LONG_UNALIGNED, off, random.nextLong());
        }
        Map<Long, long[]> crcs = new LinkedHashMap<>();
        for (long size : sizes) {
            long[] c = new long[OFFSETS];
            for (int o = 0; o < OFFSETS; o++) {
                c[o] = crc(payload.asSlice(o * OFFSET_STEP, size));
            }
            crcs.put(size, c);
        }
        // the cache: one memfd, a ring of slots per stream, mapped shared and populated
        long memfdSize = Arrays.stream(sizes).map(size -> slots(size) * size).max().orElseThrow() * maxStreams;
        int memfd = sys.memfdCreate("fillbench");
        check(sys.ftruncate(memfd, memfdSize), "ftruncate");
        long map = sys.mmap(memfdSize, memfd);
        check(sys.madvise(map, memfdSize, MADV_POPULATE_WRITE), "madvise(MADV_POPULATE_WRITE)");

        System.out.printf("# %s, Java %s, %d cpus, %.1f s per run after %.1f s warm-up, %d runs, window %d KiB, "
                        + "pipes %d KiB, recv up to %d KiB, ring %d MiB per stream%s, system default cc %s%n", kernel(),
                Runtime.version(), Runtime.getRuntime().availableProcessors(), seconds, warmup, runs, WINDOW >> 10,
                PIPE_SIZE >> 10, CHUNK >> 10, RING >> 20, PREFAULT ? ", prefault after punch" : "",
                sysctl("tcp_congestion_control"));

        List<Config> configs = new ArrayList<>();
        for (String cc : ccs) {
            for (long size : sizes) {
                for (int streams : streamCounts) {
                    for (Variant v : variants) {
                        configs.add(new Config(cc, size, streams, v));
                    }
                }
            }
        }
        try (ServerSocketChannel originListen = listen(); ServerSocketChannel proxyListen = listen()) {
            // warm-up pass (JIT, page cache of the memfd), not reported
            awaitQuiet();
            for (Variant v : variants) {
                runOnce(new Config(ccs.getFirst(), sizes[0], 1, v), 0.3, 0.2, sys, payload, crcs, memfd, map,
                        originListen, proxyListen);
            }
            Map<Config, List<Result>> results = new LinkedHashMap<>();
            System.out.println("| run | cc | object | streams | variant | GiB/s | proxy CPU s/GiB | proxy sys % "
                    + "| origin s/GiB | client s/GiB | softirq s/GiB (system) | proxy syscalls/MiB | objects |");
            System.out.println("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
            for (int run = 1; run <= runs; run++) {
                for (Config c : configs) {
                    Result r;
                    do {
                        awaitQuiet();
                        r = runOnce(c, seconds, warmup, sys, payload, crcs, memfd, map, originListen, proxyListen);
                        if (r == null) {
                            System.out.println("# another benchmark ran during " + c.key() + ", repeating");
                        }
                    } while (r == null);
                    results.computeIfAbsent(c, k -> new ArrayList<>()).add(r);
                    System.out.println("| " + run + " | " + c.key() + " | " + row(r) + " |");
                }
            }
            System.out.println();
            System.out.println("Medians of " + runs + " runs (each column on its own):");
            System.out.println();
            System.out.println("| cc | object | streams | variant | GiB/s | proxy CPU s/GiB | proxy sys % "
                    + "| origin s/GiB | client s/GiB | softirq s/GiB (system) | proxy syscalls/MiB | objects |");
            System.out.println("|---|---|---|---|---|---|---|---|---|---|---|---|");
            for (Map.Entry<Config, List<Result>> e : results.entrySet()) {
                List<Result> rs = e.getValue();
                Result m = new Result(median(rs, Result::gibPerSec), median(rs, Result::proxySPerGib),
                        median(rs, Result::proxySysShare), median(rs, Result::originSPerGib),
                        median(rs, Result::clientSPerGib), median(rs, Result::softirqSPerGib),
                        median(rs, Result::syscallsPerMib), (long) median(rs, r -> r.objects));
                System.out.println("| " + e.getKey().key() + " | " + row(m) + " |");
            }
        } finally {
            sys.munmap(map, memfdSize);
            sys.close(memfd);
            arena.close();
        }
    }

    private static String row(Result r) {
        return String.format("%.2f | %.3f | %.0f | %.3f | %.3f | %.3f | %.1f | %d", r.gibPerSec, r.proxySPerGib,
                100 * r.proxySysShare, r.originSPerGib, r.clientSPerGib, r.softirqSPerGib, r.syscallsPerMib,
                r.objects);
    }

    private static double median(List<Result> rs, java.util.function.ToDoubleFunction<Result> f) {
        double[] v = rs.stream().mapToDouble(f).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static ServerSocketChannel listen() throws IOException {
        ServerSocketChannel s = ServerSocketChannel.open();
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        return s;
    }

    /** One run of one configuration; null if another benchmark was running when it ended. */
    private static Result runOnce(Config c, double seconds, double warmup, Sys sys, MemorySegment payload,
                                  Map<Long, long[]> crcs, int memfd, long map, ServerSocketChannel originListen,
                                  ServerSocketChannel proxyListen) throws Exception {
        int n = c.streams;
        long size = c.size;
        int slots = slots(size);
        check(sys.madvise(map, slots * size * n, MADV_POPULATE_WRITE), "madvise(MADV_POPULATE_WRITE)");
        List<SocketChannel> channels = new ArrayList<>();
        int[] originFds = new int[n];
        int[] upFds = new int[n];
        int[] downFds = new int[n];
        int[] clientFds = new int[n];
        int[][] pipes = new int[n][];
        try {
            for (int i = 0; i < n; i++) {
                SocketChannel up = SocketChannel.open(originListen.getLocalAddress());
                SocketChannel origin = originListen.accept();
                SocketChannel client = SocketChannel.open(proxyListen.getLocalAddress());
                SocketChannel down = proxyListen.accept();
                channels.addAll(List.of(up, origin, client, down));
                for (SocketChannel ch : List.of(up, origin, client, down)) {
                    ch.configureBlocking(false);
                    int fd = fdOf(ch);
                    check(sys.setCongestion(fd, c.cc), "setsockopt(TCP_CONGESTION, " + c.cc + ")");
                    String got = sys.congestion(fd);
                    if (!c.cc.equals(got)) {
                        throw new IllegalStateException("congestion control " + got + ", wanted " + c.cc);
                    }
                }
                originFds[i] = fdOf(origin);
                upFds[i] = fdOf(up);
                downFds[i] = fdOf(down);
                clientFds[i] = fdOf(client);
                if (c.variant == Variant.TEE) {
                    int[] p = new int[4];
                    sys.pipe(p, 0);
                    sys.pipe(p, 2);
                    pipes[i] = p;
                    for (int fd : p) {
                        check(sys.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE), "F_SETPIPE_SZ");
                        if (sys.fcntl(fd, F_GETPIPE_SZ, 0) != PIPE_SIZE) {
                            throw new IllegalStateException("pipe size " + sys.fcntl(fd, F_GETPIPE_SZ, 0));
                        }
                    }
                }
            }
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Origin origin = new Origin(originFds, payload, size);
            Proxy proxy = new Proxy(c.variant, upFds, downFds, pipes, memfd, map, size, slots);
            Client client = new Client(clientFds, size, crcs.get(size));
            Thread[] threads = {
                    new Thread(guard(origin, failure), "fill-origin"),
                    new Thread(guard(proxy, failure), "fill-proxy"),
                    new Thread(guard(client, failure), "fill-client")};
            for (Thread t : threads) {
                t.start();
            }
            while (proxy.tid == 0 && failure.get() == null && threads[1].isAlive()) {
                Thread.onSpinWait();
            }
            Thread.sleep((long) (warmup * 1000));
            Snapshot a = snapshot(threads, proxy, client);
            Thread.sleep((long) (seconds * 1000));
            Snapshot b = snapshot(threads, proxy, client);
            origin.stop = true;
            for (Thread t : threads) {
                t.join(120_000);
                if (t.isAlive()) {
                    throw new IllegalStateException(t.getName() + " did not finish", failure.get());
                }
            }
            if (failure.get() != null) {
                throw new IllegalStateException(c.key() + " failed", failure.get());
            }
            if (client.wrongObjects > 0) {
                throw new IllegalStateException(c.key() + ": the client got " + client.wrongObjects
                        + " objects whose CRC32C differs from the origin's (of " + client.objects + ")");
            }
            if (client.objects != proxy.objects.get() || client.objects != origin.objects) {
                throw new IllegalStateException(c.key() + ": objects origin " + origin.objects + " proxy "
                        + proxy.objects.get() + " client " + client.objects);
            }
            // the memfd: every slot holds the last object stored in it
            for (int i = 0; i < n; i++) {
                int last = proxy.lastDone[i];
                for (int j = 0; j < slots; j++) {
                    int k = last - Math.floorMod(last - j, slots); // the last object that went to slot j
                    if (k < 0) {
                        continue;
                    }
                    long got = crc(MemorySegment.ofAddress(map + slotOffset(i, k, slots, size)).reinterpret(size));
                    long want = crcs.get(size)[offsetIndex(i, k)];
                    if (got != want) {
                        throw new IllegalStateException(c.key() + ": memfd slot " + j + " of stream " + i
                                + " (object " + k + ") has CRC32C " + Long.toHexString(got) + ", the origin's is "
                                + Long.toHexString(want));
                    }
                }
            }
            if (!quiet()) {
                return null;
            }
            double gib = (double) (b.received - a.received) / GIB;
            double wall = (b.nanos - a.nanos) / 1e9;
            long ticks = (b.proxyUser - a.proxyUser) + (b.proxySys - a.proxySys);
            return new Result(gib / wall, (b.proxyCpu - a.proxyCpu) / 1e9 / gib,
                    ticks == 0 ? 0 : (double) (b.proxySys - a.proxySys) / ticks,
                    (b.originCpu - a.originCpu) / 1e9 / gib, (b.clientCpu - a.clientCpu) / 1e9 / gib,
                    (double) (b.softirq - a.softirq) / CLK_TCK / gib,
                    (b.syscalls - a.syscalls) / (gib * 1024), client.objects);
        } finally {
            for (int[] p : pipes) {
                if (p != null) {
                    for (int fd : p) {
                        sys.close(fd);
                    }
                }
            }
            for (SocketChannel ch : channels) {
                ch.close();
            }
        }
    }

    private static Runnable guard(Runnable r, AtomicReference<Throwable> failure) {
        return () -> {
            try {
                r.run();
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        };
    }

    private static Snapshot snapshot(Thread[] threads, Proxy proxy, Client client) throws IOException {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        long[] proxyTicks = taskTicks(proxy.tid);
        return new Snapshot(System.nanoTime(), client.received.get(), mx.getThreadCpuTime(threads[1].threadId()),
                mx.getThreadCpuTime(threads[0].threadId()), mx.getThreadCpuTime(threads[2].threadId()),
                proxyTicks[0], proxyTicks[1], softirqTicks(), proxy.syscalls.get(), client.objects);
    }

    static int slots(long size) {
        return (int) Math.max(1, RING / size);
    }

    /** Where in the memfd stream {@code i}'s {@code k}-th object goes. */
    static long slotOffset(int i, int k, int slots, long size) {
        return ((long) i * slots + k % slots) * size;
    }

    /** The object offset index of stream {@code i}'s {@code k}-th object. */
    static int offsetIndex(int i, int k) {
        return (i * 5 + k) % OFFSETS;
    }

    static long crc(MemorySegment s) {
        CRC32C crc = new CRC32C();
        for (long off = 0; off < s.byteSize(); off += Integer.MAX_VALUE / 2) {
            crc.update(s.asSlice(off, Math.min(Integer.MAX_VALUE / 2, s.byteSize() - off)).asByteBuffer());
        }
        return crc.getValue();
    }

    // ---------------------------------------------------------------- the three threads

    /** Writes objects back to back on each connection until stopped, then ends each after its current object. */
    static final class Origin implements Runnable {
        private final int[] fds;
        private final MemorySegment payload;
        private final long size;
        volatile boolean stop;
        volatile long objects;

        Origin(int[] fds, MemorySegment payload, long size) {
            this.fds = fds;
            this.payload = payload;
            this.size = size;
        }

        @Override
        public void run() {
            Sys sys = new Sys();
            int n = fds.length;
            boolean[] writable = new boolean[n];
            boolean[] done = new boolean[n];
            int[] object = new int[n];
            long[] pos = new long[n];
            int ep = sys.epollCreate();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment events = arena.allocate(EPOLL_EVENT_SIZE * 64L);
                for (int i = 0; i < n; i++) {
                    check(sys.epollAdd(ep, fds[i], EPOLLOUT | EPOLLET, i), "epoll_ctl");
                    writable[i] = true;
                }
                int active = n;
                long objectsDone = 0;
                while (active > 0) {
                    for (int i = 0; i < n; i++) {
                        while (writable[i] && !done[i]) {
                            if (pos[i] == 0 && stop) {
                                check(sys.shutdownWrite(fds[i]), "shutdown");
                                done[i] = true;
                                active--;
                                break;
                            }
                            long base = payload.address() + offsetIndex(i, object[i]) * OFFSET_STEP;
                            long r = sys.write(fds[i], base + pos[i], Math.min(size - pos[i], 4 * MIB));
                            if (r > 0) {
                                pos[i] += r;
                                if (pos[i] == size) {
                                    pos[i] = 0;
                                    object[i]++;
                                    objects = ++objectsDone;
                                }
                            } else if (r == -EAGAIN) {
                                writable[i] = false;
                            } else {
                                throw new IllegalStateException("origin write: errno " + -r);
                            }
                        }
                    }
                    if (active == 0) {
                        break;
                    }
                    int k = sys.epollWait(ep, events, 64, 50);
                    if (k == 0) {
                        Arrays.fill(writable, true); // the stop flag, or a lost edge
                    }
                    for (int j = 0; j < k; j++) {
                        writable[(int) events.get(ValueLayout.JAVA_LONG_UNALIGNED, j * EPOLL_EVENT_SIZE + 4L)] = true;
                    }
                }
            } finally {
                sys.close(ep);
            }
        }
    }

    /** Moves each object into the stream's memfd slot and to its client; the thread measured. */
    static final class Proxy implements Runnable {
        private final Variant variant;
        private final int[] up;
        private final int[] down;
        private final int[][] pipes;
        private final int memfd;
        private final long map;
        private final long size;
        private final int slots;
        final int[] lastDone;
        final AtomicLong syscalls = new AtomicLong();
        final AtomicLong objects = new AtomicLong();
        volatile int tid;

        // per stream
        private final boolean[] readable;
        private final boolean[] writable;
        private final boolean[] done;
        private final boolean[] needsPunch;
        private final long[] recvd;
        private final long[] stored;
        private final long[] sent;
        private final long[] in1;
        private final long[] in2;
        private final int[] object;
        private int active;
        private Sys sys;
        private MemorySegment offset; // an off_t for sendfile and splice

        Proxy(Variant variant, int[] up, int[] down, int[][] pipes, int memfd, long map, long size, int slots) {
            this.variant = variant;
            this.up = up;
            this.down = down;
            this.pipes = pipes;
            this.memfd = memfd;
            this.map = map;
            this.size = size;
            this.slots = slots;
            int n = up.length;
            lastDone = new int[n];
            Arrays.fill(lastDone, -1);
            readable = new boolean[n];
            writable = new boolean[n];
            done = new boolean[n];
            needsPunch = new boolean[n];
            recvd = new long[n];
            stored = new long[n];
            sent = new long[n];
            in1 = new long[n];
            in2 = new long[n];
            object = new int[n];
        }

        @Override
        public void run() {
            sys = new Sys();
            tid = sys.gettid();
            int n = up.length;
            int ep = sys.epollCreate();
            try (Arena arena = Arena.ofConfined()) {
                offset = arena.allocate(ValueLayout.JAVA_LONG);
                MemorySegment events = arena.allocate(EPOLL_EVENT_SIZE * 64L);
                for (int i = 0; i < n; i++) {
                    check(sys.epollAdd(ep, up[i], EPOLLIN | EPOLLRDHUP | EPOLLET, 2L * i), "epoll_ctl");
                    check(sys.epollAdd(ep, down[i], EPOLLOUT | EPOLLET, 2L * i + 1), "epoll_ctl");
                    readable[i] = true;
                    writable[i] = true;
                }
                active = n;
                for (int i = 0; i < n; i++) {
                    step(i);
                }
                while (active > 0) {
                    int k = sys.epollWait(ep, events, 64, 50);
                    syscalls.incrementAndGet();
                    if (k == 0) { // the origin is stopping (it ends at object boundaries), or a lost edge
                        for (int i = 0; i < n; i++) {
                            readable[i] = true;
                            writable[i] = true;
                            step(i);
                        }
                        continue;
                    }
                    for (int j = 0; j < k; j++) {
                        long data = events.get(ValueLayout.JAVA_LONG_UNALIGNED, j * EPOLL_EVENT_SIZE + 4L);
                        int i = (int) (data >> 1);
                        if ((data & 1) == 0) {
                            readable[i] = true;
                        } else {
                            writable[i] = true;
                        }
                        step(i);
                    }
                }
            } finally {
                sys.close(ep);
            }
        }

        private void step(int i) {
            if (done[i]) {
                return;
            }
            if (variant == Variant.TEE) {
                stepTee(i);
            } else {
                stepRecv(i);
            }
        }

        /** recv into the slot, then write or sendfile from it. */
        private void stepRecv(int i) {
            while (true) {
                long slot = slotOffset(i, object[i], slots, size); // complete() moves on to the next slot
                boolean progress = false;
                if (readable[i] && recvd[i] < size && recvd[i] - sent[i] < WINDOW) {
                    if (recvd[i] == 0 && needsPunch[i]) {
                        // only once the next object has begun (a peek), so the slot keeps the last one at the end
                        long peek = sys.recvPeek(up[i]);
                        syscalls.incrementAndGet();
                        if (peek == 0) {
                            eof(i);
                            return;
                        } else if (peek == -EAGAIN) {
                            readable[i] = false;
                            return;
                        }
                        check(peek, "recv(MSG_PEEK)");
                        check(sys.punch(memfd, slot, size), "fallocate(PUNCH_HOLE)");
                        syscalls.incrementAndGet();
                        if (PREFAULT) {
                            check(sys.madvise(map + slot, size, MADV_POPULATE_WRITE), "madvise");
                            syscalls.incrementAndGet();
                        }
                        needsPunch[i] = false;
                    }
                    long want = Math.min(Math.min(CHUNK, size - recvd[i]), WINDOW - (recvd[i] - sent[i]));
                    long r = sys.recv(up[i], map + slot + recvd[i], want);
                    syscalls.incrementAndGet();
                    if (r > 0) {
                        recvd[i] += r;
                        progress = true;
                    } else if (r == 0) {
                        eof(i);
                        return;
                    } else if (r == -EAGAIN) {
                        readable[i] = false;
                    } else {
                        throw new IllegalStateException("recv: errno " + -r);
                    }
                }
                if (writable[i] && sent[i] < recvd[i]) {
                    long r;
                    if (variant == Variant.RECV_WRITE) { // else RECV_SENDFILE*
                        r = sys.write(down[i], map + slot + sent[i], recvd[i] - sent[i]);
                    } else {
                        offset.set(ValueLayout.JAVA_LONG, 0, slot + sent[i]);
                        r = sys.sendfile(down[i], memfd, offset.address(), recvd[i] - sent[i]);
                    }
                    syscalls.incrementAndGet();
                    if (r > 0) {
                        sent[i] += r;
                        progress = true;
                    } else if (r == -EAGAIN) {
                        writable[i] = false;
                    } else {
                        throw new IllegalStateException(variant.tag + ": errno " + -r);
                    }
                }
                if (sent[i] == size) {
                    complete(i);
                    needsPunch[i] = variant == Variant.RECV_SENDFILE && object[i] >= slots;
                    progress = true;
                }
                if (!progress) {
                    return;
                }
            }
        }

        /**
         * splice socket -> pipe1, tee pipe1 -> pipe2, splice pipe1 -> memfd (the copy into the page cache), splice
         * pipe2 -> client. tee always duplicates from the head of pipe1, so pipe1 holds only bytes not yet teed
         * (each tee's bytes are stored at once), and the remainder the client has not taken waits in pipe2.
         */
        private void stepTee(int i) {
            int[] p = pipes[i];
            int p1r = p[0];
            int p1w = p[1];
            int p2r = p[2];
            int p2w = p[3];
            while (true) {
                long slot = slotOffset(i, object[i], slots, size); // complete() moves on to the next slot
                boolean progress = false;
                if (readable[i] && in1[i] == 0 && recvd[i] < size && recvd[i] - sent[i] < WINDOW) {
                    long want = Math.min(size - recvd[i], WINDOW - (recvd[i] - sent[i]));
                    long r = sys.splice(up[i], 0, p1w, 0, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                    syscalls.incrementAndGet();
                    if (r > 0) {
                        recvd[i] += r;
                        in1[i] += r;
                        progress = true;
                    } else if (r == 0) {
                        eof(i);
                        return;
                    } else if (r == -EAGAIN) {
                        readable[i] = false;
                    } else {
                        throw new IllegalStateException("splice socket -> pipe: errno " + -r);
                    }
                }
                if (in1[i] > 0) {
                    long t = sys.tee(p1r, p2w, in1[i], SPLICE_F_NONBLOCK);
                    syscalls.incrementAndGet();
                    if (t > 0) {
                        for (long left = t; left > 0; ) {
                            offset.set(ValueLayout.JAVA_LONG, 0, slot + stored[i]);
                            long s = sys.splice(p1r, 0, memfd, offset.address(), left, SPLICE_F_MOVE);
                            syscalls.incrementAndGet();
                            if (s <= 0) {
                                throw new IllegalStateException("splice pipe -> memfd: " + s);
                            }
                            stored[i] += s;
                            left -= s;
                        }
                        in1[i] -= t;
                        in2[i] += t;
                        progress = true;
                    } else if (t != -EAGAIN) { // EAGAIN: pipe2 is full, the client must take some first
                        throw new IllegalStateException("tee: " + t);
                    }
                }
                if (writable[i] && in2[i] > 0) {
                    long r = sys.splice(p2r, 0, down[i], 0, in2[i], SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                    syscalls.incrementAndGet();
                    if (r > 0) {
                        sent[i] += r;
                        in2[i] -= r;
                        progress = true;
                    } else if (r == -EAGAIN) {
                        writable[i] = false;
                    } else {
                        throw new IllegalStateException("splice pipe -> socket: errno " + -r);
                    }
                }
                if (sent[i] == size) {
                    if (stored[i] != size || in1[i] != 0 || in2[i] != 0) {
                        throw new IllegalStateException("stored " + stored[i] + " in1 " + in1[i] + " in2 " + in2[i]);
                    }
                    complete(i);
                    progress = true;
                }
                if (!progress) {
                    return;
                }
            }
        }

        private void complete(int i) {
            lastDone[i] = object[i]++;
            recvd[i] = 0;
            stored[i] = 0;
            sent[i] = 0;
            objects.incrementAndGet();
        }

        /** The origin ended the connection: fine between objects, then the client's connection ends too. */
        private void eof(int i) {
            if (recvd[i] != 0) {
                throw new IllegalStateException("upstream EOF inside object " + object[i] + " at " + recvd[i]);
            }
            check(sys.shutdownWrite(down[i]), "shutdown");
            done[i] = true;
            active--;
        }
    }

    /** Reads every byte, checks each object's CRC32C against the origin's. */
    static final class Client implements Runnable {
        private final int[] fds;
        private final long size;
        private final long[] crcs;
        final AtomicLong received = new AtomicLong();
        volatile long objects;
        volatile long wrongObjects;

        Client(int[] fds, long size, long[] crcs) {
            this.fds = fds;
            this.size = size;
            this.crcs = crcs;
        }

        @Override
        public void run() {
            Sys sys = new Sys();
            int n = fds.length;
            boolean[] readable = new boolean[n];
            boolean[] done = new boolean[n];
            int[] object = new int[n];
            long[] pos = new long[n];
            CRC32C[] crc = new CRC32C[n];
            int ep = sys.epollCreate();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(MIB, 4096);
                ByteBuffer bb = buf.asByteBuffer();
                MemorySegment events = arena.allocate(EPOLL_EVENT_SIZE * 64L);
                for (int i = 0; i < n; i++) {
                    crc[i] = new CRC32C();
                    check(sys.epollAdd(ep, fds[i], EPOLLIN | EPOLLRDHUP | EPOLLET, i), "epoll_ctl");
                    readable[i] = true;
                }
                int active = n;
                long objectsDone = 0;
                long wrong = 0;
                while (active > 0) {
                    for (int i = 0; i < n; i++) {
                        while (readable[i] && !done[i]) {
                            long r = sys.recv(fds[i], buf.address(), Math.min(MIB, size - pos[i]));
                            if (r > 0) {
                                bb.clear().limit((int) r);
                                crc[i].update(bb);
                                received.addAndGet(r);
                                pos[i] += r;
                                if (pos[i] == size) {
                                    if (crc[i].getValue() != crcs[offsetIndex(i, object[i])]) {
                                        wrongObjects = ++wrong;
                                    }
                                    crc[i].reset();
                                    pos[i] = 0;
                                    object[i]++;
                                    objects = ++objectsDone;
                                }
                            } else if (r == 0) {
                                if (pos[i] != 0) {
                                    throw new IllegalStateException("client: EOF inside an object");
                                }
                                done[i] = true;
                                active--;
                            } else if (r == -EAGAIN) {
                                readable[i] = false;
                            } else {
                                throw new IllegalStateException("client recv: errno " + -r);
                            }
                        }
                    }
                    if (active == 0) {
                        break;
                    }
                    int k = sys.epollWait(ep, events, 64, 50);
                    if (k == 0) {
                        Arrays.fill(readable, true);
                    }
                    for (int j = 0; j < k; j++) {
                        readable[(int) events.get(ValueLayout.JAVA_LONG_UNALIGNED, j * EPOLL_EVENT_SIZE + 4L)] = true;
                    }
                }
            } finally {
                sys.close(ep);
            }
        }
    }

    // ---------------------------------------------------------------- the machine

    /** -Dbench.wait=false skips the wait for other benchmarks (smoke runs only: the figures would be disturbed). */
    private static final boolean WAIT_FOR_OTHERS = Boolean.parseBoolean(System.getProperty("bench.wait", "true"));
    private static final Pattern OTHER_BENCH = Pattern.compile("bench\\.sh|haproxy|nginx|varnishd|traffic_server");

    /** Whether no other benchmark (by process command line) is running. */
    static boolean quiet() {
        if (!WAIT_FOR_OTHERS) {
            return true;
        }
        long self = ProcessHandle.current().pid();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            return procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit))
                    .filter(p -> Long.parseLong(p.getFileName().toString()) != self)
                    .noneMatch(p -> {
                        try {
                            String cmd = new String(Files.readAllBytes(p.resolve("cmdline")),
                                    StandardCharsets.ISO_8859_1);
                            return OTHER_BENCH.matcher(cmd).find();
                        } catch (IOException | RuntimeException e) {
                            return false; // gone
                        }
                    });
        } catch (IOException e) {
            return true;
        }
    }

    private static void awaitQuiet() throws InterruptedException {
        if (quiet()) {
            return;
        }
        long start = System.nanoTime();
        System.out.println("# waiting: another benchmark is running");
        while (!quiet()) {
            Thread.sleep(5_000);
        }
        System.out.printf("# waited %.0f s%n", (System.nanoTime() - start) / 1e9);
        Thread.sleep(2_000); // let its processes' exit settle
    }

    /** The fd of a JDK channel (needs --add-exports java.base/sun.nio.ch=ALL-UNNAMED). */
    private static int fdOf(Object ch) {
        try {
            return (int) Class.forName("sun.nio.ch.SelChImpl").getMethod("getFDVal").invoke(ch);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("run with --add-exports java.base/sun.nio.ch=ALL-UNNAMED", e);
        }
    }

    /** utime and stime of one thread of this process, in clock ticks. */
    private static long[] taskTicks(int tid) throws IOException {
        String stat = Files.readString(Path.of("/proc/self/task/" + tid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return new long[] {Long.parseLong(f[11]), Long.parseLong(f[12])};
    }

    /** System-wide softirq time in clock ticks (the "cpu" line of /proc/stat, 7th value). */
    private static long softirqTicks() throws IOException {
        String cpu = Files.readAllLines(Path.of("/proc/stat")).getFirst();
        return Long.parseLong(cpu.trim().split("\\s+")[7]);
    }

    private static String sysctl(String name) {
        try {
            return Files.readString(Path.of("/proc/sys/net/ipv4/" + name)).trim();
        } catch (IOException e) {
            return "?";
        }
    }

    private static String kernel() {
        try {
            return "Linux " + Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim();
        } catch (IOException e) {
            return System.getProperty("os.name");
        }
    }

    private static void check(long r, String what) {
        if (r < 0) {
            throw new IllegalStateException(what + ": errno " + -r);
        }
    }

    // ---------------------------------------------------------------- libc, through FFM

    static final int EAGAIN = 11;
    static final int F_SETPIPE_SZ = 1031;
    static final int F_GETPIPE_SZ = 1032;
    static final int SPLICE_F_MOVE = 1;
    static final int SPLICE_F_NONBLOCK = 2;
    static final int EPOLLIN = 0x001;
    static final int EPOLLOUT = 0x004;
    static final int EPOLLRDHUP = 0x2000;
    static final int EPOLLET = 1 << 31;
    /** struct epoll_event is packed on x86_64: u32 events, u64 data. */
    static final int EPOLL_EVENT_SIZE = 12;
    static final int MADV_POPULATE_WRITE = 23;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG; // also pointers (x86_64, aarch64)

    private static MethodHandle downcall(String name, FunctionDescriptor d, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = Linker.Option.captureCallState("errno");
        System.arraycopy(extra, 0, options, 1, extra.length);
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), d, options);
    }

    private static final MethodHandle RECV = downcall("recv", FunctionDescriptor.of(L, I, L, L, I));
    private static final MethodHandle WRITE = downcall("write", FunctionDescriptor.of(L, I, L, L));
    private static final MethodHandle SENDFILE = downcall("sendfile", FunctionDescriptor.of(L, I, I, L, L));
    private static final MethodHandle SPLICE = downcall("splice", FunctionDescriptor.of(L, I, L, I, L, L, I));
    private static final MethodHandle TEE = downcall("tee", FunctionDescriptor.of(L, I, I, L, I));
    private static final MethodHandle PIPE2 = downcall("pipe2", FunctionDescriptor.of(I, L, I));
    private static final MethodHandle FCNTL = downcall("fcntl", FunctionDescriptor.of(I, I, I, I),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle MEMFD_CREATE = downcall("memfd_create", FunctionDescriptor.of(I, L, I));
    private static final MethodHandle FTRUNCATE = downcall("ftruncate", FunctionDescriptor.of(I, I, L));
    private static final MethodHandle MMAP = downcall("mmap", FunctionDescriptor.of(L, L, L, I, I, I, L));
    private static final MethodHandle MUNMAP = downcall("munmap", FunctionDescriptor.of(I, L, L));
    private static final MethodHandle MADVISE = downcall("madvise", FunctionDescriptor.of(I, L, L, I));
    private static final MethodHandle FALLOCATE = downcall("fallocate", FunctionDescriptor.of(I, I, I, L, L));
    private static final MethodHandle EPOLL_CREATE1 = downcall("epoll_create1", FunctionDescriptor.of(I, I));
    private static final MethodHandle EPOLL_CTL = downcall("epoll_ctl", FunctionDescriptor.of(I, I, I, I, L));
    private static final MethodHandle EPOLL_WAIT = downcall("epoll_wait", FunctionDescriptor.of(I, I, L, I, I));
    private static final MethodHandle SETSOCKOPT = downcall("setsockopt", FunctionDescriptor.of(I, I, I, I, L, I));
    private static final MethodHandle GETSOCKOPT = downcall("getsockopt", FunctionDescriptor.of(I, I, I, I, L, L));
    private static final MethodHandle SHUTDOWN = downcall("shutdown", FunctionDescriptor.of(I, I, I));
    private static final MethodHandle CLOSE = downcall("close", FunctionDescriptor.of(I, I));
    private static final MethodHandle GETTID = downcall("gettid", FunctionDescriptor.of(I));

    /** One thread's syscalls: each returns the result or -errno (its errno capture buffer is the thread's own). */
    static final class Sys {
        private final Arena arena = Arena.ofAuto();
        private final MemorySegment state = arena.allocate(CALL_STATE);
        private final MemorySegment scratch = arena.allocate(64);

        private long ret(long r) {
            return r < 0 ? -(int) ERRNO.get(state, 0L) : r;
        }

        long recv(int fd, long buf, long len) {
            try {
                return ret((long) RECV.invokeExact(state, fd, buf, len, 0));
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        /** recv(fd, 1 byte, MSG_PEEK): whether anything (1), EOF (0) or -errno. */
        long recvPeek(int fd) {
            try {
                return ret((long) RECV.invokeExact(state, fd, scratch.address() + 48, 1L, 2));
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        long write(int fd, long buf, long len) {
            try {
                return ret((long) WRITE.invokeExact(state, fd, buf, len));
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        long sendfile(int out, int in, long offsetPtr, long count) {
            try {
                return ret((long) SENDFILE.invokeExact(state, out, in, offsetPtr, count));
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        long splice(int in, long offInPtr, int out, long offOutPtr, long len, int flags) {
            try {
                return ret((long) SPLICE.invokeExact(state, in, offInPtr, out, offOutPtr, len, flags));
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        long tee(int in, int out, long len, int flags) {
            try {
                return ret((long) TEE.invokeExact(state, in, out, len, flags));
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        /** pipe2(O_NONBLOCK|O_CLOEXEC) into fds[at] (read end) and fds[at + 1]. */
        void pipe(int[] fds, int at) {
            try {
                int r = (int) PIPE2.invokeExact(state, scratch.address(), 0x800 | 0x80000);
                check(ret(r), "pipe2");
                fds[at] = scratch.get(ValueLayout.JAVA_INT, 0);
                fds[at + 1] = scratch.get(ValueLayout.JAVA_INT, 4);
            } catch (Throwable t) {
                throw t instanceof RuntimeException e ? e : new IllegalStateException(t);
            }
        }

        int fcntl(int fd, int cmd, int arg) {
            try {
                return (int) ret((int) FCNTL.invokeExact(state, fd, cmd, arg));
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        int memfdCreate(String name) {
            try (Arena a = Arena.ofConfined()) {
                int r = (int) ret((int) MEMFD_CREATE.invokeExact(state, a.allocateFrom(name).address(), 1));
                check(r, "memfd_create");
                return r;
            } catch (Throwable t) {
                throw t instanceof RuntimeException e ? e : new IllegalStateException(t);
            }
        }

        int ftruncate(int fd, long size) {
            try {
                return (int) ret((int) FTRUNCATE.invokeExact(state, fd, size));
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        /** mmap(PROT_READ|PROT_WRITE, MAP_SHARED) of the whole fd. */
        long mmap(long len, int fd) {
            try {
                long r = (long) MMAP.invokeExact(state, 0L, len, 3, 1, fd, 0L);
                if (r == -1) {
                    throw new IllegalStateException("mmap: errno " + ERRNO.get(state, 0L));
                }
                return r;
            } catch (Throwable t) {
                throw t instanceof RuntimeException e ? e : new IllegalStateException(t);
            }
        }

        int munmap(long addr, long len) {
            try {
                return (int) ret((int) MUNMAP.invokeExact(state, addr, len));
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        int madvise(long addr, long len, int advice) {
            try {
                return (int) ret((int) MADVISE.invokeExact(state, addr, len, advice));
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        /** fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE). */
        int punch(int fd, long offset, long len) {
            try {
                return (int) ret((int) FALLOCATE.invokeExact(state, fd, 3, offset, len));
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        int epollCreate() {
            try {
                int r = (int) ret((int) EPOLL_CREATE1.invokeExact(state, 0x80000));
                check(r, "epoll_create1");
                return r;
            } catch (Throwable t) {
                throw t instanceof RuntimeException e ? e : new IllegalStateException(t);
            }
        }

        int epollAdd(int ep, int fd, int events, long data) {
            try {
                scratch.set(ValueLayout.JAVA_INT, 0, events);
                scratch.set(ValueLayout.JAVA_LONG_UNALIGNED, 4, data);
                return (int) ret((int) EPOLL_CTL.invokeExact(state, ep, 1, fd, scratch.address()));
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        /** epoll_wait; EINTR counts as no events. */
        int epollWait(int ep, MemorySegment events, int max, int timeoutMillis) {
            try {
                int r = (int) ret((int) EPOLL_WAIT.invokeExact(state, ep, events.address(), max, timeoutMillis));
                if (r == -4) {
                    return 0;
                }
                check(r, "epoll_wait");
                return r;
            } catch (Throwable t) {
                throw t instanceof RuntimeException e ? e : new IllegalStateException(t);
            }
        }

        int setCongestion(int fd, String name) {
            try {
                byte[] b = name.getBytes(StandardCharsets.US_ASCII);
                MemorySegment.copy(b, 0, scratch, ValueLayout.JAVA_BYTE, 0, b.length);
                return (int) ret((int) SETSOCKOPT.invokeExact(state, fd, 6, 13, scratch.address(), b.length));
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        String congestion(int fd) {
            try {
                scratch.fill((byte) 0);
                scratch.set(ValueLayout.JAVA_INT, 32, 16);
                int r = (int) ret((int) GETSOCKOPT.invokeExact(state, fd, 6, 13, scratch.address(),
                        scratch.address() + 32));
                return r < 0 ? null : scratch.getString(0);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        int shutdownWrite(int fd) {
            try {
                return (int) ret((int) SHUTDOWN.invokeExact(state, fd, 1));
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        int close(int fd) {
            try {
                return (int) ret((int) CLOSE.invokeExact(state, fd));
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        int gettid() {
            try {
                return (int) GETTID.invokeExact(state);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }
    }
}
