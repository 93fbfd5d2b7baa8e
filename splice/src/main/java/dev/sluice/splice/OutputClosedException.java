package dev.sluice.splice;

/**
 * The output's peer closed its side of the connection (FIN, or a reset) while the transfer had stalled: no byte moved
 * for 250 ms, typically because the input stopped sending. Only transfers started with
 * the output watched ({@link Splicer#transfer(io.netty.channel.Channel, io.netty.channel.Channel, long, long, boolean,
 * SpliceCallback)}) report it; without the watch such a transfer waits for its input until the idle timeout, since
 * nothing is written to the output that could fail. Every byte read from the input was forwarded or is discarded
 * with the pipe.
 */
public final class OutputClosedException extends SpliceException {
    private static final long serialVersionUID = 1L;

    OutputClosedException(String why) {
        super(why);
    }
}
