package dev.sluice.proxy;

/** A failure that becomes a local reply (or a close) with a reason that reaches the access log. */
final class ProxyException extends Exception {
    final Failure failure;

    ProxyException(Failure failure, String reason) {
        super(reason, null, false, false); // no stack: these are expected outcomes, not bugs
        this.failure = failure;
    }

    String reason() {
        return getMessage();
    }
}
