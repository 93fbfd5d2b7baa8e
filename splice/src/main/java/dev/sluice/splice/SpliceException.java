package dev.sluice.splice;

import java.io.IOException;

/**
 * Why a splice transfer ended early. The subclasses are the distinct outcomes a caller maps to a status or a log
 * reason: {@link PrematureEofException}, {@link SpliceTimeoutException}, {@link SpliceCancelledException},
 * {@link SpliceIoException} and {@link SpliceRefusedException}.
 */
public class SpliceException extends IOException {
    private static final long serialVersionUID = 1L;

    SpliceException(String message) {
        super(message);
    }
}
