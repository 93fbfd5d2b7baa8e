package dev.sluice.proxy;

/** Sluice cannot start; the message says why in one line, for the operator (no stack trace needed). */
public final class StartException extends Exception {
    private static final long serialVersionUID = 1L;

    StartException(String message) {
        super(message);
    }
}
