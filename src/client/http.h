/*
 * The HTTP transport to gpuplexd (libcurl): one request, one answer, over its
 * unix socket, HTTP or HTTPS. The typed client (include/gpuplex/client.h,
 * src/client/conn_http.c) is built on it; nothing else should call it.
 *
 * A server is named as
 *   - a socket path: "/run/gpuplex/gpuplexd.sock" (or "unix:PATH"), or
 *   - an URL: "http://127.0.0.1:7470", "https://gpu7.example:7470" (the
 *     certificate is verified against $GPUPLEX_CA when set, else the system's
 *     CA store; always with the host name).
 * Default: $GPUPLEX_SERVER, else GPX_CLIENT_DEFAULT_SOCKET. The token comes
 * from the caller or $GPUPLEX_TOKEN; without one, unix-socket callers are
 * identified by their uid.
 *
 * Ownership: gpx_client_new() returns a handle the caller frees with
 * gpx_client_free() (NULL is accepted); response bodies are malloc'd and
 * the caller frees them with free(). A handle is not thread-safe.
 */
#ifndef GPX_CLIENT_HTTP_H
#define GPX_CLIENT_HTTP_H

#include "gpuplex/error.h"

#include <stddef.h>

#define GPX_CLIENT_DEFAULT_SOCKET "/run/gpuplex/gpuplexd.sock"

typedef struct gpx_client gpx_client;

/* `server` and `token` may be NULL (then the environment and defaults apply). */
int gpx_client_new(const char *server, const char *token, gpx_client **out, gpx_error *err);
void gpx_client_free(gpx_client *c);
/* The server this handle talks to, as given or defaulted (for messages). */
const char *gpx_client_server(const gpx_client *c);

/*
 * Sends one request and reads the answer. `body` (JSON) may be NULL.
 * 2xx: returns 0, *status and *resp (NUL-terminated, caller frees; may be NULL
 * when the caller does not want it). Error answers: returns -1 with `err` set
 * from the daemon's {"error":{"code","message"}} and *status. Transport
 * failures: -1 with GPX_E_IO ("cannot reach gpuplexd at ..."), *status 0.
 * Keeps the connection open for the next request (libcurl resends a request
 * that a reused connection closed before any answer byte, on a new one).
 */
int gpx_client_request(gpx_client *c, const char *method, const char *path, const char *body,
                       int *status, char **resp, gpx_error *err);

/*
 * One request with a raw body (len bytes of content_type) whose answer is
 * kept raw, whatever its status, in *out (struct gpx_fn_answer of
 * include/gpuplex/client.h: status, Content-Type, the X-Gpuplex-* headers,
 * the body). -1 only for transport failures (GPX_E_IO), as above.
 */
struct gpx_fn_answer;
int gpx_client_raw_request(gpx_client *c, const char *method, const char *path,
                           const char *content_type, const void *body, size_t len,
                           struct gpx_fn_answer *out, gpx_error *err);

/*
 * Inside the client (answer.c, no libcurl, fuzzed by tests/fuzz/fuzz_client_response.c).
 * gpx__client_answer: an answer's HTTP status and body (malloc'd, NUL-terminated after `len`
 * bytes, or NULL; taken over) as gpx_client_request returns them: 2xx, 0 and *resp (when
 * wanted); else -1 with `err` from the body's {"error":{"code","message"}} or the status.
 * gpx__client_json: a 2xx body (taken over) as JSON in *out (may be NULL), or GPX_E_IO.
 */
struct json_t;
int gpx__client_answer(long status, char *body, size_t len, char **resp, gpx_error *err);
int gpx__client_json(const char *server, char *resp, struct json_t **out, gpx_error *err);
/* Appends "?name=value" (or "&name=value") to the path in buf, percent-encoded; a NULL value
 * adds nothing (conn_http.c; functions.c's usage query too). */
void gpx__client_query(char *buf, size_t len, const char *name, const char *value);

#endif
