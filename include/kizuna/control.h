/*
 * The control protocol: how local programs (the kizuna CLI, kizuna-ctl) act
 * on a running kizunad.
 *
 * Transport: a unix stream socket at [control] socket (default
 * HOME/control.sock), mode 0600, so only the node's own user (and root) may
 * connect: a client that can connect is the node's operator.
 *
 * Framing: newline-delimited JSON.  Each request is one JSON object on one
 * line of at most KZ_CONTROL_LINE_MAX bytes; each gets exactly one response
 * line, in order.  A client may pipeline requests and may half-close its
 * side after the last one: kizunad answers what it read, then closes.
 *
 * Requests ("id", any JSON value, is copied into the response if given):
 *
 *   {"cmd":"ping"}
 *       -> {"ok":true}
 *   {"cmd":"status"}
 *       -> {"ok":true,"node_key":HEX,"node_name":S,"home":S,"feed_length":N,
 *           "feeds":N,"entries":N,"forks":N,"store_bytes":N,
 *           "schema_version":N,"uptime_s":N,"pid":N,"version":S,
 *           "control":{"clients":N,"requests":N,"bad_requests":N},
 *           "views_backlog":N,              entries not yet in the views
 *           "listen_port":N|null,
 *           "peers":[{"address","direction","state","node_key","discovered",
 *                     "transport","name","since","bytes_in","bytes_out",
 *                     "entries_in","entries_out","urgent_in","urgent_out",
 *                     "pending_in","pending_out","queued_bytes",
 *                     "last_error","pending_bytes_in","pending_bytes_out",
 *                     "last_contact","lag_s"}, ...]  (docs/api.md),
 *           "rejected":{REASON:N, ...},     what peers sent that was refused
 *           "discovery":{...}|null}
 *   {"cmd":"content_digest"}
 *       -> {"ok":true,"content_digest":HEX}   the store's every table, hashed
 *          (tests compare it before and after hostile input)
 *   {"cmd":"append","op":BASE64}
 *       The op bytes (standard base64 with padding) are decoded and checked
 *       by kz_op_decode, then appended to this node's feed alone (signed
 *       on their own) and committed before the answer:
 *       -> {"ok":true,"seq":N,"hash":HEX,"hlc":N}
 *
 *   {"cmd":"import_slack","path":ABS_PATH}
 *       Starts importing the Slack export at ABS_PATH (a ZIP or a folder,
 *       read by kizunad) into this node's feed, as `kizuna import slack`
 *       does (docs/slack.md), and answers at once; the import runs a batch
 *       at a time between the loop's other work, and each committed batch
 *       is pushed on every link.  One at a time; this node must be an
 *       admin node.  A stop (SIGTERM) ends it at a batch boundary, and
 *       importing again resumes it.
 *       -> {"ok":true,"import":N}          N counts the imports begun
 *   {"cmd":"import_status"[,"problems_from":N]}
 *       The import running, or the last one since kizunad started:
 *       -> {"ok":true,"import":N,"state":"none"|"running"|"complete"|
 *           "failed"|"stopped","path":S,"channels":N,"users":N,
 *           "messages":N,"system":N,"threads":N,"reactions":N,"files":N,
 *           "present":N,"skipped":N,"entries":N,   (struct kz_slack_stats)
 *           "day_files":N,"day_files_done":N,"seconds":F,
 *           "error":null|{"code":KZ_ERRNAME,"message":S},  failed: why
 *           "problems_total":N,"problems_kept":N,  (the first 1,000 kept)
 *           "steps":N,"step_ms_max":F,   batches run, the longest (the loop
 *                                          waited that long)
 *           "problems":[{"file":S,"line":N,"what":S}, ...]}
 *          problems lists at most 50 of those kept, from problems_from
 *          (default 0) on; "path" is absent while state is "none".
 *
 * Failure: {"ok":false,"error":{"code":CODE,"message":TEXT}}, where CODE is
 * one of the KZ_CONTROL_E_* strings below.  After any failure but an
 * oversize line the connection goes on; a line over KZ_CONTROL_LINE_MAX is
 * answered with bad_request and the connection is closed.
 */
#ifndef KIZUNA_CONTROL_H
#define KIZUNA_CONTROL_H

/* Longest request or response line, newline excluded. */
#define KZ_CONTROL_LINE_MAX (256 * 1024)

/* Not JSON, not an object, a missing or mistyped field, a line too long. */
#define KZ_CONTROL_E_BAD_REQUEST "bad_request"
/* "cmd" names no command this kizunad knows. */
#define KZ_CONTROL_E_UNKNOWN_COMMAND "unknown_command"
/* The op bytes are not one valid, canonically encoded operation. */
#define KZ_CONTROL_E_INVALID_OP "invalid_op"
/* The op is over KZ_OP_MAX bytes (or a field over its bound). */
#define KZ_CONTROL_E_TOO_BIG "too_big"
/* This node's own feed is forked: it must not write until resolved. */
#define KZ_CONTROL_E_FORKED "forked"
/* The disk is full; nothing was stored. */
#define KZ_CONTROL_E_DISK_FULL "disk_full"
/* Any other store failure; nothing was stored. */
#define KZ_CONTROL_E_STORE "store_error"
/* Too many control connections; try again. */
#define KZ_CONTROL_E_BUSY "busy"
/* import_slack: an import is running already (one at a time). */
#define KZ_CONTROL_E_IMPORT_RUNNING "import_running"
/* import_slack: this node is not a live admin node of a mesh. */
#define KZ_CONTROL_E_NOT_ADMIN_NODE "not_admin_node"
/* import_slack: the path cannot be opened as an export (the message says
 * why, as the reader does); nothing was written. */
#define KZ_CONTROL_E_CANNOT_OPEN "cannot_open"

#endif
