package dev.sluice.splice;

/**
 * The transfer was cancelled: by {@link SpliceTransfer#cancel()}, because one of its channels closed, or because
 * the {@link Splicer} (or its event loop) shut down. The callback runs only after every in-flight operation has
 * completed, so the channels may be closed from the callback.
 */
public final class SpliceCancelledException extends SpliceException {
    private static final long serialVersionUID = 1L;

    SpliceCancelledException(String why) {
        super(why);
    }
}
