package dev.sluice.splice;

/**
 * The transfer was started but could not take ownership of the input before any byte moved, e.g. the peer's FIN
 * had already made Netty start reading the input. No byte was consumed: the caller copies instead, as for a
 * {@code null} from {@link Splicer#transfer}. Counted as a fallback with {@link #reason()}.
 */
public final class SpliceRefusedException extends SpliceException {
    private static final long serialVersionUID = 1L;
    private final FallbackReason reason;

    SpliceRefusedException(FallbackReason reason) {
        super("splice refused before any byte moved: " + reason.tag());
        this.reason = reason;
    }

    public FallbackReason reason() {
        return reason;
    }
}
