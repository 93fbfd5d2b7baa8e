package dev.sluice.shm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A store on a shmem file: an anonymous memfd ({@link Backing#MEMFD}) or a named file under /dev/shm
 * ({@link Backing#POSIX_SHM}), sized with ftruncate, mapped MAP_SHARED with raw mmap (so one segment may exceed
 * 2 GiB, which {@code FileChannel.map} cannot), and optionally mlocked.
 *
 * <p>The mapping is wrapped in a shared {@link Arena}: closing the store unmaps it, and any later access through
 * {@link #segment()} or an extent's slice fails with an exception instead of touching unmapped memory.
 */
final class MemfdStore extends AbstractStore {
    private static final AtomicBoolean LOCK_REFUSAL_LOGGED = new AtomicBoolean();
    private static final AtomicInteger LOCK_REFUSALS_LOGGED = new AtomicInteger();

    private final Backing backing;
    private final int fd;
    private final String path;
    private final long address;
    private final Arena arena;
    private final MemorySegment segment;
    private final long lockedBytes;
    private final long lockFailures;

    @SuppressWarnings("restricted") // turning mmap's address into a bounded segment
    private MemfdStore(String name, int loop, long capacity, int blockSize, Backing backing, Mapping m) {
        super(name, loop, capacity, blockSize);
        this.backing = backing;
        this.fd = m.fd;
        this.path = m.path;
        this.address = m.address;
        this.lockedBytes = m.locked ? capacity : 0;
        this.lockFailures = m.lockFailures;
        this.arena = Arena.ofShared();
        // munmap also drops the mlock; the fd stays open until release() closes it after the arena.
        this.segment = MemorySegment.ofAddress(m.address).reinterpret(capacity, arena,
                ignored -> unmap(name, m.address, capacity));
    }

    private record Mapping(int fd, String path, long address, boolean locked, long lockFailures) {}

    /**
     * Creates, maps and (per policy) locks one segment.
     *
     * @param path for {@link Backing#POSIX_SHM} the file to create (must not exist), else ignored
     * @throws ShmException with the kernel's reason; nothing is left open or mapped
     */
    static MemfdStore open(String name, int loop, long capacity, int blockSize, Backing backing, String path,
                           LockPolicy policy, boolean populate) {
        Native.ensureAvailable();
        int fd;
        if (backing == Backing.MEMFD) {
            // MFD_NOEXEC_SEAL keeps newer kernels from logging about executable memfds; older ones reject it.
            fd = Native.memfdCreate(name, Native.MFD_CLOEXEC | Native.MFD_NOEXEC_SEAL);
            if (fd == -Native.EINVAL) {
                fd = Native.memfdCreate(name, Native.MFD_CLOEXEC);
            }
            if (fd < 0) {
                throw new ShmException(String.format("memfd_create(%s) failed: %s", name, Native.describe(-fd)), -fd);
            }
            path = null;
        } else if (backing == Backing.POSIX_SHM) {
            fd = Native.open(path, Native.O_RDWR | Native.O_CREAT | Native.O_EXCL | Native.O_CLOEXEC, 0600);
            if (fd < 0) {
                throw new ShmException(String.format("creating %s failed: %s%s", path, Native.describe(-fd),
                        fd == -Native.EEXIST ? " (left over by another process? remove it or pick another name)"
                                : ""), -fd);
            }
        } else {
            throw new IllegalArgumentException(String.format("not a file backing: %s", backing));
        }
        long address = 0;
        boolean ok = false;
        try {
            int r = Native.ftruncate(fd, capacity);
            if (r != 0) {
                throw new ShmException(String.format("ftruncate(%s, %d) failed: %s", name, capacity,
                        Native.describe(-r)), -r);
            }
            int flags = Native.MAP_SHARED | (populate ? Native.MAP_POPULATE : 0);
            address = Native.mmap(capacity, Native.PROT_READ | Native.PROT_WRITE, flags, fd);
            if (address < 0) {
                int errno = (int) -address;
                address = 0;
                throw new ShmException(String.format("mmap of %d bytes for %s failed: %s", capacity, name,
                        Native.describe(errno)), errno);
            }
            boolean locked = false;
            long lockFailures = 0;
            if (policy != LockPolicy.OFF) {
                r = Native.mlock(address, capacity);
                if (r == 0) {
                    locked = true;
                } else {
                    String reason = String.format(
                            "mlock of %d bytes for %s refused: %s; %s (processes with CAP_IPC_LOCK are exempt)",
                            capacity, name, Native.describe(-r), Native.memlockLimit());
                    if (policy == LockPolicy.REQUIRED) {
                        throw new ShmException(reason + "; raise the limit (ulimit -l, systemd LimitMEMLOCK=), grant "
                                + "CAP_IPC_LOCK, or set the lock policy to try or off", -r);
                    }
                    // A refused mlock may have locked a prefix before failing: leave the segment uniformly unlocked.
                    Native.munlock(address, capacity);
                    lockFailures = 1;
                    if (LOCK_REFUSAL_LOGGED.compareAndSet(false, true)) {
                        LOCK_REFUSALS_LOGGED.incrementAndGet();
                        LOG.log(System.Logger.Level.WARNING, reason
                                + "; running unlocked under lock policy try (logged once per process; every refusal"
                                + " is counted in the lockFailures gauge)");
                    }
                }
            }
            MemfdStore store = new MemfdStore(name, loop, capacity, blockSize, backing,
                    new Mapping(fd, path, address, locked, lockFailures));
            ok = true;
            return store;
        } finally {
            if (!ok) {
                if (address != 0) {
                    Native.munmap(address, capacity);
                }
                Native.close(fd);
                if (path != null) {
                    Native.unlink(path);
                }
            }
        }
    }

    private static void unmap(String name, long address, long length) {
        int r = Native.munmap(address, length);
        if (r != 0) {
            LOG.log(System.Logger.Level.ERROR, String.format("%s: munmap failed: %s", name, Native.describe(-r)));
        }
    }

    /** How many times the once-per-process lock refusal warning was logged (0 or 1): a test hook. */
    static int lockRefusalsLogged() {
        return LOCK_REFUSALS_LOGGED.get();
    }

    @Override
    public Backing backing() {
        return backing;
    }

    @Override
    public MemorySegment segment() {
        return segment;
    }

    @Override
    public int fd() {
        return fd;
    }

    /** The mapping's address, for diagnostics. */
    long address() {
        return address;
    }

    /** The /dev/shm path for {@link Backing#POSIX_SHM}, else null. */
    String path() {
        return path;
    }

    @Override
    int punchHole(long offset, long length) {
        // Freeing the file's pages detaches them from the page cache; socket buffers still holding references keep
        // the old pages (and their old bytes) alive, and the next write faults in fresh zeroed pages. KEEP_SIZE keeps
        // the file (and so the mapping) whole.
        return Native.fallocate(fd, Native.FALLOC_FL_PUNCH_HOLE | Native.FALLOC_FL_KEEP_SIZE, offset, length);
    }

    @Override
    void release() {
        try {
            arena.close(); // munmap through the segment's cleanup action
        } catch (IllegalStateException e) {
            // A thread is inside an I/O call on a view of the segment; unmapping under it is not ours to do.
            LOG.log(System.Logger.Level.ERROR, String.format(
                    "%s: segment still in use by another thread; left mapped", name()), e);
        }
        int r = Native.close(fd);
        if (r != 0) {
            LOG.log(System.Logger.Level.WARNING, String.format("%s: close(%d) failed: %s", name(), fd,
                    Native.describe(-r)));
        }
        if (path != null) {
            r = Native.unlink(path);
            if (r != 0) {
                LOG.log(System.Logger.Level.WARNING, String.format("%s: unlink(%s) failed: %s", name(), path,
                        Native.describe(-r)));
            }
        }
    }

    @Override
    long lockedBytes() {
        return isClosed() ? 0 : lockedBytes;
    }

    @Override
    long lockFailures() {
        return lockFailures;
    }
}
