package dev.sluice.admin;

/**
 * A refusal of an admin request: its status and a message for the caller, answered as
 * {@code {"error": message, "status": status}}. Thrown by the API's parsing and checks; never a bug's exception.
 */
final class ApiError extends Exception {
    /** Longest message sent back: parts of untrusted input are quoted in messages, never in full. */
    private static final int MAX_MESSAGE = 300;

    final int status;

    ApiError(int status, String message) {
        super(message.length() > MAX_MESSAGE ? message.substring(0, MAX_MESSAGE) + "..." : message, null, false, false);
        this.status = status;
    }

    static ApiError badRequest(String message) {
        return new ApiError(400, message);
    }

    static ApiError notFound(String message) {
        return new ApiError(404, message);
    }

    /** {@code s} cut to a length fit to quote in a message. */
    static String quote(String s) {
        return s.length() > 100 ? s.substring(0, 100) + "..." : s;
    }
}
