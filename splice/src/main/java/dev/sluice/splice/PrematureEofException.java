package dev.sluice.splice;

/** The input peer closed (EOF) before the requested byte count arrived. Every byte read was forwarded. */
public final class PrematureEofException extends SpliceException {
    private static final long serialVersionUID = 1L;
    private final long expected;
    private final long received;

    PrematureEofException(long expected, long received) {
        super(String.format("input reached EOF after %d of %d bytes", received, expected));
        this.expected = expected;
        this.received = received;
    }

    /** The byte count the transfer was asked to move. */
    public long expected() {
        return expected;
    }

    /** The bytes that arrived before EOF. */
    public long received() {
        return received;
    }
}
