package dev.sluice.admin;

import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code POST /config/reload}: re-reads the file Sluice was started with and applies it ({@link ConfigReload}). The
 * request takes no parameters and no body (an empty JSON object is accepted too). Replies:
 * <ul>
 * <li>200 {@code {"file", "generation", "changed": [...], "restart_required": [...]}}: the file was valid; what changed
 * and is in effect now, and what changed but waits for a restart;</li>
 * <li>422 {@code {"error", "status", "file", "problems": ["file:line: key: what", ...]}}: the file is invalid (or
 * gone); nothing changed;</li>
 * <li>409 {@code {"error", "status"}}: Sluice runs from no file (the built-in demo); nothing to reload.</li>
 * </ul>
 */
final class ReloadApi {
    private ReloadApi() {}

    static FullHttpResponse reload(ConfigReload reload, byte[] body) throws ApiError {
        String text = new String(body, StandardCharsets.UTF_8).strip();
        if (!text.isEmpty() && !CacheApi.object(body).isEmpty()) {
            throw ApiError.badRequest("a reload takes no fields: it re-reads the file Sluice was started with");
        }
        Map<String, Object> out = new LinkedHashMap<>();
        return switch (reload.reload("admin API")) {
            case ConfigReload.Applied a -> {
                out.put("file", a.file());
                out.put("generation", a.generation());
                out.put("changed", a.applied());
                out.put("restart_required", a.restartRequired());
                yield reply(HttpResponseStatus.OK, out);
            }
            case ConfigReload.Invalid i -> {
                out.put("error", "the configuration file is invalid; nothing changed");
                out.put("status", 422);
                out.put("file", i.file());
                out.put("problems", i.problems());
                yield reply(HttpResponseStatus.UNPROCESSABLE_ENTITY, out);
            }
            case ConfigReload.NoFile n -> throw new ApiError(409, n.why());
        };
    }

    private static FullHttpResponse reply(HttpResponseStatus status, Map<String, Object> body) {
        return AdminServer.text(status, CacheApi.json(body) + "\n", "application/json");
    }
}
