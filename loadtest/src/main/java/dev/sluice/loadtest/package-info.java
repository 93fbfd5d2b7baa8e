/**
 * Sluice's measuring tools, standalone (Netty epoll/NIO, no other Sluice module): {@link dev.sluice.loadtest.Payload}
 * (deterministic, non-periodic bytes per path), {@link dev.sluice.loadtest.Origin} (an HTTP/1.1 origin serving and
 * verifying them, with faults), {@link dev.sluice.loadtest.LoadClient} (verifying load with latency, throughput and
 * per-PID CPU) and the peer benchmark driver behind {@code loadtest/bench.sh}. See {@code loadtest/README.md}.
 */
package dev.sluice.loadtest;
