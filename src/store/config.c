/*
 * The settings table and its INI reader.  Each row names a setting, its
 * type, default, bounds and one line of help; the handler given to libinih
 * looks keys up here, and the default config file is printed from here.
 * Errors name the file and the line, as Redis' "FATAL CONFIG FILE ERROR".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "kizuna/config.h"
#include "kizuna/err.h"
#include "kizuna/kiss.h"
#include "kizuna/util.h"

/* CFG_HEX: an integer written 0xNN (or in decimal), printed in hex. */
enum cfg_type { CFG_STRING, CFG_INT, CFG_ENUM, CFG_BOOL, CFG_HEX };

/*
 * A CFG_STRING validator: 0 if value is acceptable, else KZ_ERR_CONFIG with
 * the reason (what follows "[section] name: ") in why.
 */
typedef int cfg_check_fn(const char *value, char *why, size_t whylen);

struct cfg_row {
	const char *section;
	const char *name;
	enum cfg_type type;
	size_t offset;
	const char *def;
	long min, max;			/* CFG_INT bounds; CFG_STRING length bounds */
	const char *const *choices;	/* CFG_ENUM, NULL-terminated */
	cfg_check_fn *check;		/* CFG_STRING, or NULL */
	const char *help;
};

static const char *const log_levels[] = { "error", "warning", "info", "debug", NULL };
/* In the order of enum kz_config_compress. */
static const char *const compress_modes[] = { "none", "zstd", "dict", NULL };
/* In the order of enum kz_config_profile. */
static const char *const profiles[] = { "lan", "slow", NULL };
/* [net] compress: "auto", then compress_modes (index - 1). */
static const char *const net_compress_modes[] = { "auto", "none", "zstd", "dict",
	NULL };

static cfg_check_fn check_socket, check_listen, check_peers;
static cfg_check_fn check_disc_address, check_disc_interface;
static cfg_check_fn check_callsign;

#define OFF(f) offsetof(struct kz_config, f)
/* "HOST:PORT": the longest host, brackets, a colon and five digits. */
#define HOSTPORT_MAX (KZ_CONFIG_HOST_MAX + 8)
/* The longest peer list that fits on one line after "peers = ". */
#define PEERS_MAX (KZ_CONFIG_LINE_MAX - 8)

static const struct cfg_row rows[] = {
	{ "node", "name", CFG_STRING, OFF(node_name), "", 0, 63, NULL, NULL,
	  "Name shown to other nodes and staff, e.g. city-hall (may stay empty)." },
	{ "store", "path", CFG_STRING, OFF(store_path), "store.db", 1,
	  KZ_CONFIG_PATH_MAX, NULL, NULL,
	  "SQLite store file; relative paths are inside the node's home folder." },
	{ "log", "level", CFG_ENUM, OFF(log_level), "info", 0, 0, log_levels, NULL,
	  "Least severe message logged: error, warning, info or debug." },
	{ "control", "socket", CFG_STRING, OFF(control_socket), "control.sock", 1,
	  KZ_CONFIG_PATH_MAX, NULL, check_socket,
	  "Local control socket (mode 0600) through which the kizuna command acts\n"
	  "# on the running kizunad; relative paths are inside the home folder." },
	{ "net", "listen", CFG_STRING, OFF(net_listen), "0.0.0.0:7420", 0,
	  HOSTPORT_MAX, NULL, check_listen,
	  "TCP address on which peers link to this node, HOST:PORT; [::]:7420 for\n"
	  "# IPv6 too; port 0 picks a free port; empty: accept no links." },
	{ "net", "peers", CFG_STRING, OFF(net_peers), "", 0, PEERS_MAX, NULL,
	  check_peers,
	  "Static peers this node keeps a link to, comma-separated HOST:PORT\n"
	  "# (a name, an IPv4 address or an IPv6 address in brackets)." },
	{ "net", "discovery", CFG_BOOL, OFF(net_discovery), "true", 0, 0, NULL, NULL,
	  "Find and link to mesh members on the LAN by UDP beacons, which carry\n"
	  "# the mesh id's hash, the node key and the listen port only, no secret." },
	{ "net", "discovery_address", CFG_STRING, OFF(net_discovery_address),
	  "239.192.74.20", 7, 15, NULL, check_disc_address,
	  "Where beacons go, an IPv4 address: a multicast group (the default is\n"
	  "# organisation-local, sent with TTL 1 so it stays on the LAN), or\n"
	  "# 255.255.255.255 to broadcast on a flat LAN whose switches drop multicast." },
	{ "net", "discovery_interface", CFG_STRING, OFF(net_discovery_interface),
	  "", 0, 15, NULL, check_disc_interface,
	  "IPv4 address of the interface beacons are sent from and heard on;\n"
	  "# empty: the system's choice (that of the default route)." },
	{ "net", "discovery_port", CFG_INT, OFF(net_discovery_port), "7421", 1,
	  65535, NULL, NULL, "UDP port of the LAN discovery beacons." },
	{ "net", "discovery_interval_s", CFG_INT, OFF(net_discovery_interval_s),
	  "5", 1, 3600, NULL, NULL,
	  "Seconds between beacons (with +-20% jitter); a node unheard for three\n"
	  "# of them is forgotten once its link has ended." },
	{ "net", "keepalive_s", CFG_INT, OFF(net_keepalive_s), "10", 1, 300, NULL,
	  NULL, "Seconds between keepalives on an idle link; a peer silent for three\n"
	  "# of them is taken for dead and its link closed." },
	{ "net", "reconnect_max_s", CFG_INT, OFF(net_reconnect_max_s), "60", 1,
	  3600, NULL, NULL,
	  "Longest wait, in seconds, between attempts to reach a static peer (the\n"
	  "# wait doubles from one second up to this, with random jitter)." },
	/* docs/sync.md, "Link profiles". */
	{ "net", "profile", CFG_ENUM, OFF(net_profile), "lan", 0, 0, profiles,
	  NULL,
	  "What the line under this node's TCP links is: lan (fast: large runs,\n"
	  "# no compression) or slow (a satellite terminal, an IP radio bridge, a\n"
	  "# mobile data stick: urgent entries first, then recent chat, small\n"
	  "# runs, 16 KiB queued at most, zstd with the dictionary).  For links\n"
	  "# to static peers and links accepted; links to nodes found by LAN\n"
	  "# discovery are always lan.  Set it on both ends of a slow line." },
	{ "net", "compress", CFG_ENUM, OFF(net_compress), "auto", 0, 0,
	  net_compress_modes, NULL,
	  "The most a TCP link may compress: auto (none with profile lan, dict\n"
	  "# with slow), none, zstd, or dict (zstd with the built-in dictionary);\n"
	  "# the two nodes use the best both allow." },
	/* docs/api.md, "mesh_links": the mesh map's reports. */
	{ "net", "link_reports", CFG_BOOL, OFF(net_link_reports), "true", 0, 0,
	  NULL, NULL,
	  "Write this node's link reports, which let every node draw the whole\n"
	  "# mesh's map (off: other nodes see this node's links only from their\n"
	  "# own side)." },
	{ "net", "link_report_min_s", CFG_INT, OFF(net_link_report_min_s), "60",
	  1, 3600, NULL, NULL,
	  "Fewest seconds between two of this node's link reports (the entries\n"
	  "# that draw the whole mesh's map on every node): a change of links\n"
	  "# inside the window is reported at its end." },
	{ "net", "link_report_settle_s", CFG_INT, OFF(net_link_report_settle_s),
	  "10", 0, 600, NULL, NULL,
	  "Seconds after start before the first link report, so that the links\n"
	  "# to static peers are up when it is written." },
	{ "net", "link_report_refresh_s", CFG_INT, OFF(net_link_report_refresh_s),
	  "600", 0, 86400, NULL, NULL,
	  "Seconds after which an unchanged link report is written again, so\n"
	  "# that other nodes can tell a quiet node from one not heard for long\n"
	  "# (their maps mark a report older than 15 minutes stale); 0: never." },
	{ "http", "listen", CFG_STRING, OFF(http_listen), "0.0.0.0:8080", 0,
	  HOSTPORT_MAX, NULL, check_listen,
	  "TCP address of the web UI and its HTTP API, HOST:PORT; port 0 picks a\n"
	  "# free port; empty: none.  A port that cannot be bound is logged and\n"
	  "# the node runs on without the web UI." },
	{ "http", "web_root", CFG_STRING, OFF(http_web_root), "", 0,
	  KZ_CONFIG_PATH_MAX, NULL, NULL,
	  "Folder of the web UI's files; relative paths are inside the home\n"
	  "# folder; empty: the installed share/kizuna/web beside the binary, else\n"
	  "# the source tree's src/web." },
	{ "http", "session_idle_s", CFG_INT, OFF(http_session_idle_s), "28800", 2,
	  604800, NULL, NULL,
	  "Seconds a signed-in browser may stay idle before its session ends." },
	{ "courier", "folder", CFG_STRING, OFF(courier_folder), "", 0,
	  KZ_CONFIG_PATH_MAX, NULL, NULL,
	  "A folder to sync through by hand, e.g. a USB stick's mount point: bundles\n"
	  "# (*.kzb) found there are verified and imported, and this node leaves\n"
	  "# its vector and, for each other node's vector there, what that node\n"
	  "# lacks.  Relative paths are inside the home folder; empty: none." },
	{ "courier", "interval_s", CFG_INT, OFF(courier_interval_s), "5", 1, 3600,
	  NULL, NULL, "Seconds between looks at the courier folder." },
	{ "courier", "write", CFG_BOOL, OFF(courier_write), "true", 0, 0, NULL, NULL,
	  "Write this node's vector and bundles for other nodes into the folder\n"
	  "# (off: only import from it)." },
	/* docs/radio.md, "kizunad over radio", says more of each. */
	{ "radio", "device", CFG_STRING, OFF(radio_device), "", 0,
	  KZ_CONFIG_PATH_MAX, NULL, NULL,
	  "The KISS modem of this node's radio link to one other station: a\n"
	  "# serial TNC (/dev/ttyUSB0) or a software TNC such as Direwolf over\n"
	  "# TCP (tcp:127.0.0.1:8001); empty: no radio.  Needs mycall and peercall." },
	{ "radio", "speed", CFG_INT, OFF(radio_speed), "9600", 300, 230400, NULL,
	  NULL, "Serial port speed in baud, a standard rate (ignored with tcp:)." },
	{ "radio", "bit_rate", CFG_INT, OFF(radio_bit_rate), "1200", 300, 115200,
	  NULL, NULL,
	  "The modem's rate on air in bits/s (1200 AFSK, 9600 G3RUH): sets the\n"
	  "# airtime budget and the link's timers.  Both stations set the same." },
	{ "radio", "mycall", CFG_STRING, OFF(radio_mycall), "", 0, 63, NULL,
	  check_callsign,
	  "This station's callsign and SSID, e.g. JA1ABC-3: a licensed station\n"
	  "# identifies itself in every frame.  Of the two stations, the one whose\n"
	  "# callsign sorts first starts each session's handshake." },
	{ "radio", "peercall", CFG_STRING, OFF(radio_peercall), "", 0, 63, NULL,
	  check_callsign,
	  "The other station's callsign and SSID: frames go to it, and only its\n"
	  "# frames to this station are taken." },
	{ "radio", "ax25", CFG_BOOL, OFF(radio_ax25), "true", 0, 0, NULL, NULL,
	  "Send each frame as an AX.25 UI frame (16-byte header); off only for a\n"
	  "# modem that needs no addresses (a LoRa KISS modem)." },
	{ "radio", "kiss_port", CFG_INT, OFF(radio_kiss_port), "0", 0, 15, NULL,
	  NULL, "KISS port (the TNC's radio channel) the link uses." },
	{ "radio", "pid", CFG_HEX, OFF(radio_pid), "0xf1", 0, 0xfe, NULL, NULL,
	  "AX.25 protocol id of the link's frames; 0xf0 is APRS to Direwolf,\n"
	  "# which drops such frames past 100 queued." },
	{ "radio", "txdelay_ms", CFG_INT, OFF(radio_txdelay_ms), "300", 0, 2550,
	  NULL, NULL,
	  "Channel access, set in the TNC over KISS: the preamble before each\n"
	  "# transmission (at least the radios' turnaround time), ms." },
	{ "radio", "persist", CFG_INT, OFF(radio_persist), "63", 0, 255, NULL,
	  NULL, "p-persistence: chance (persist+1)/256 to send in a free slot." },
	{ "radio", "slottime_ms", CFG_INT, OFF(radio_slottime_ms), "100", 0, 2550,
	  NULL, NULL, "Slot time of p-persistence, ms." },
	{ "radio", "txtail_ms", CFG_INT, OFF(radio_txtail_ms), "100", 0, 2550,
	  NULL, NULL, "Time the transmitter stays keyed after the last frame, ms." },
	{ "radio", "frame_max", CFG_INT, OFF(radio_frame_max), "216", 48, 1023,
	  NULL, NULL,
	  "Largest frame the modem takes, bytes, AX.25 header included: the\n"
	  "# link's frames are 16 less (200).  Both stations set the same." },
	{ "radio", "compress", CFG_ENUM, OFF(radio_compress), "dict", 0, 0,
	  compress_modes, NULL,
	  "The most the link may compress: none, zstd, or dict (zstd with the\n"
	  "# built-in dictionary); the two stations use the best both allow." },
	{ "radio", "keepalive_s", CFG_INT, OFF(radio_keepalive_s), "60", 1, 3600,
	  NULL, NULL,
	  "Seconds between keepalives on an idle radio link (each costs airtime);\n"
	  "# a station silent for minutes is taken for gone and a new session begun." },
};

#define N_ROWS (sizeof(rows) / sizeof(rows[0]))
_Static_assert(N_ROWS <= KZ_CONFIG_ROWS_MAX, "raise KZ_CONFIG_ROWS_MAX");

static const struct {
	const char *word;
	bool value;
} bool_words[] = {
	{ "true", true }, { "yes", true }, { "on", true }, { "1", true },
	{ "false", false }, { "no", false }, { "off", false }, { "0", false },
	{ NULL, false },
};

/* ------------------------------------------------------------ validators */

/* A DNS name: dot-separated labels of letters, digits and inner hyphens. */
static bool
dns_name_valid(const char *s)
{
	size_t label = 0, i;
	bool all_digits = true, prev_digits = false;

	if (*s == '\0' || *s == '.')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		char ch = s[i];

		if (ch == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			prev_digits = all_digits;
			all_digits = true;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-'))
			return false;
		if (ch == '-' && label == 0)
			return false;
		if (ch < '0' || ch > '9')
			all_digits = false;
		if (++label > 63)
			return false;
	}
	if (label > 0 && s[i - 1] == '-')
		return false;
	/* A trailing dot is allowed; "192.0.2.300" is a bad address, not a
	 * name: the last label of a name is never all digits. */
	return !(label > 0 ? all_digits : prev_digits);
}

int
kz_hostport_parse(struct kz_hostport *out, const char *text, bool listen)
{
	const char *colon, *host = text, *port;
	size_t hlen;
	unsigned char addr[16];
	char *end;
	long v;

	memset(out, 0, sizeof(*out));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':')
			return KZ_ERR_INVAL;
		host = text + 1;
		hlen = (size_t)(close - host);
		port = close + 2;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL || memchr(text, ':', (size_t)(colon - text)) != NULL)
			return KZ_ERR_INVAL;	/* none, or an unbracketed IPv6 */
		hlen = (size_t)(colon - text);
		port = colon + 1;
	}
	if (hlen == 0 || hlen > KZ_CONFIG_HOST_MAX)
		return KZ_ERR_INVAL;
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	if (*port < '0' || *port > '9')
		return KZ_ERR_INVAL;
	errno = 0;
	v = strtol(port, &end, 10);
	if (errno != 0 || *end != '\0' || v > 65535 || (v == 0 && !listen))
		return KZ_ERR_INVAL;
	out->port = (uint16_t)v;
	if (host != text)
		out->numeric = inet_pton(AF_INET6, out->host, addr) == 1;
	else
		out->numeric = inet_pton(AF_INET, out->host, addr) == 1;
	if (out->numeric)
		return 0;
	if (host != text || listen || !dns_name_valid(out->host))
		return KZ_ERR_INVAL;
	return 0;
}

/* A callsign ("" allowed: kizunad requires one only with a device). */
static int
check_callsign(const char *value, char *why, size_t whylen)
{
	struct kz_ax25_addr a;
	const char *w = NULL;

	if (value[0] == '\0' || kz_ax25_addr_parse(&a, value, &w) == 0)
		return 0;
	snprintf(why, whylen, "'%s': %s (a callsign such as JA1ABC or JA1ABC-3)",
	    value, w != NULL ? w : "not a callsign");
	return KZ_ERR_CONFIG;
}

static int
check_socket(const char *value, char *why, size_t whylen)
{
	struct sockaddr_un sun;

	if (value[0] == '/' && strlen(value) >= sizeof(sun.sun_path)) {
		snprintf(why, whylen, "a socket path is at most %zu bytes long",
		    sizeof(sun.sun_path) - 1);
		return KZ_ERR_CONFIG;
	}
	return 0;
}

static int
check_listen(const char *value, char *why, size_t whylen)
{
	struct kz_hostport hp;

	if (value[0] == '\0' || kz_hostport_parse(&hp, value, true) == 0)
		return 0;
	snprintf(why, whylen, "'%s' is not ADDRESS:PORT (e.g. 0.0.0.0:7420, "
	    "[::]:7420)", value);
	return KZ_ERR_CONFIG;
}

/* A dotted-quad IPv4 address into *a (network order).  Returns true if it is one. */
static bool
ipv4_parse(const char *value, uint32_t *a)
{
	struct in_addr in;

	if (inet_pton(AF_INET, value, &in) != 1)
		return false;
	*a = ntohl(in.s_addr);
	return true;
}

static int
check_disc_address(const char *value, char *why, size_t whylen)
{
	uint32_t a;

	if (!ipv4_parse(value, &a) || a == 0) {
		snprintf(why, whylen, "'%s' is not an IPv4 address to send beacons "
		    "to (a multicast group such as 239.192.74.20, or 255.255.255.255)",
		    value);
		return KZ_ERR_CONFIG;
	}
	return 0;
}

static int
check_disc_interface(const char *value, char *why, size_t whylen)
{
	uint32_t a;

	if (value[0] == '\0')
		return 0;
	if (!ipv4_parse(value, &a) || a == 0 || a == 0xffffffffu ||
	    (a >> 28) == 0xe) {
		snprintf(why, whylen, "'%s' is not the IPv4 address of one of this "
		    "node's interfaces (e.g. 192.0.2.10), nor empty", value);
		return KZ_ERR_CONFIG;
	}
	return 0;
}

/*
 * Splits a peer list at its commas, skipping blanks around each entry.
 * Returns 0 and how many were found, or KZ_ERR_CONFIG with the reason.
 */
static int
split_peers(const char *value, struct kz_hostport *peers, size_t *n, char *why,
    size_t whylen)
{
	const char *p = value, *e;
	char one[HOSTPORT_MAX + 1];
	size_t len, i;

	*n = 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		e = p + strcspn(p, ",");
		len = (size_t)(e - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0) {
			snprintf(why, whylen, "an empty entry in the list");
			return KZ_ERR_CONFIG;
		}
		if (*n == KZ_CONFIG_PEERS_MAX) {
			snprintf(why, whylen, "at most %d peers", KZ_CONFIG_PEERS_MAX);
			return KZ_ERR_CONFIG;
		}
		snprintf(one, sizeof(one), "%.*s", (int)len, p);
		if (len > HOSTPORT_MAX ||
		    kz_hostport_parse(&peers[*n], one, false) < 0) {
			snprintf(why, whylen, "'%.*s' is not HOST:PORT (e.g. "
			    "192.0.2.20:7420, [2001:db8::20]:7420, branch.example:7420)",
			    (int)(len > 60 ? 60 : len), p);
			return KZ_ERR_CONFIG;
		}
		for (i = 0; i < *n; i++) {
			if (peers[i].port == peers[*n].port &&
			    strcasecmp(peers[i].host, peers[*n].host) == 0) {
				snprintf(why, whylen, "'%s' is listed twice", one);
				return KZ_ERR_CONFIG;
			}
		}
		(*n)++;
		if (*e == '\0')
			return 0;
		p = e + 1;
	}
}

static int
check_peers(const char *value, char *why, size_t whylen)
{
	struct kz_hostport peers[KZ_CONFIG_PEERS_MAX];
	size_t n;

	return split_peers(value, peers, &n, why, whylen);
}

int
kz_config_net_compress(const struct kz_config *cfg)
{
	if (cfg->net_compress != KZ_CONFIG_NET_COMPRESS_AUTO)
		return cfg->net_compress - 1;
	return cfg->net_profile == KZ_CONFIG_PROFILE_SLOW ?
	    KZ_CONFIG_COMPRESS_DICT : KZ_CONFIG_COMPRESS_NONE;
}

int
kz_config_peers(const struct kz_config *cfg,
    struct kz_hostport peers[KZ_CONFIG_PEERS_MAX], size_t *n)
{
	char why[200];

	return split_peers(cfg->net_peers, peers, n, why, sizeof(why)) < 0 ?
	    KZ_ERR_INVAL : 0;
}

int
kz_config_home_path(char *buf, size_t len, const char *home, const char *path)
{
	int n;

	if (path[0] == '/')
		n = snprintf(buf, len, "%s", path);
	else
		n = snprintf(buf, len, "%s/%s", home, path);
	return n < 0 || (size_t)n >= len ? KZ_ERR_INVAL : 0;
}

static int
set_row(struct kz_config *cfg, const struct cfg_row *r, const char *value,
    char *err, size_t errlen)
{
	char *p = (char *)cfg + r->offset, *end;
	long v;
	int i;

	switch (r->type) {
	case CFG_STRING:
		if (strlen(value) > (size_t)r->max || strlen(value) < (size_t)r->min) {
			snprintf(err, errlen, "[%s] %s must be %ld to %ld bytes long",
			    r->section, r->name, r->min, r->max);
			return KZ_ERR_CONFIG;
		}
		if (!kz_utf8_valid((const uint8_t *)value, strlen(value))) {
			snprintf(err, errlen, "[%s] %s is not valid UTF-8",
			    r->section, r->name);
			return KZ_ERR_CONFIG;
		}
		if (r->check != NULL) {
			char why[200];

			if (r->check(value, why, sizeof(why)) < 0) {
				snprintf(err, errlen, "[%s] %s: %s", r->section,
				    r->name, why);
				return KZ_ERR_CONFIG;
			}
		}
		snprintf(p, KZ_CONFIG_STR_MAX, "%s", value);
		return 0;
	case CFG_BOOL:
		for (i = 0; bool_words[i].word != NULL; i++) {
			if (strcasecmp(value, bool_words[i].word) == 0) {
				*(bool *)(void *)p = bool_words[i].value;
				return 0;
			}
		}
		snprintf(err, errlen, "[%s] %s: '%s' is not true or false",
		    r->section, r->name, value);
		return KZ_ERR_CONFIG;
	case CFG_INT:
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' || v < r->min ||
		    v > r->max) {
			snprintf(err, errlen, "[%s] %s must be an integer from %ld to %ld",
			    r->section, r->name, r->min, r->max);
			return KZ_ERR_CONFIG;
		}
		*(int *)(void *)p = (int)v;
		return 0;
	case CFG_HEX: {
		/* 0xNN, or decimal; never octal ("010" is ten). */
		const char *digits = value;
		int base = 10;

		if (value[0] == '0' && (value[1] == 'x' || value[1] == 'X')) {
			digits = value + 2;
			base = 16;
		}
		errno = 0;
		v = -1;
		end = (char *)(uintptr_t)digits;
		if ((digits[0] >= '0' && digits[0] <= '9') || (base == 16 &&
		    ((digits[0] >= 'a' && digits[0] <= 'f') ||
		    (digits[0] >= 'A' && digits[0] <= 'F'))))
			v = strtol(digits, &end, base);
		if (v < 0 || errno != 0 || *end != '\0' || v < r->min ||
		    v > r->max) {
			snprintf(err, errlen, "[%s] %s must be from 0x%02lx to 0x%02lx",
			    r->section, r->name, r->min, r->max);
			return KZ_ERR_CONFIG;
		}
		*(int *)(void *)p = (int)v;
		return 0;
	}
	case CFG_ENUM:
		for (i = 0; r->choices[i] != NULL; i++) {
			if (strcmp(value, r->choices[i]) == 0) {
				*(int *)(void *)p = i;
				return 0;
			}
		}
		snprintf(err, errlen, "[%s] %s: '%s' is not one of the allowed values",
		    r->section, r->name, value);
		return KZ_ERR_CONFIG;
	}
	return KZ_ERR_CONFIG;
}

/* The row of [section] name, or -1. */
static int
find_row(const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < N_ROWS; i++)
		if (strcmp(rows[i].section, section) == 0 &&
		    strcmp(rows[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
kz_config_set(struct kz_config *cfg, const char *section, const char *name,
    const char *value, char *err, size_t errlen)
{
	int i = find_row(section, name);

	if (i >= 0)
		return set_row(cfg, &rows[i], value, err, errlen);
	snprintf(err, errlen, "unknown setting [%s] %s", section, name);
	return KZ_ERR_CONFIG;
}

int
kz_config_line(const struct kz_config *cfg, const char *section,
    const char *name)
{
	int i = find_row(section, name);

	return i >= 0 ? cfg->lines[i] : 0;
}

void
kz_config_defaults(struct kz_config *cfg)
{
	char err[256];
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < N_ROWS; i++)
		(void)set_row(cfg, &rows[i], rows[i].def, err, sizeof(err));
}

struct load_ctx {
	struct kz_config *cfg;
	char msg[256];
	int failed;
	FILE *f;
	int line;		/* lines handed to libinih so far */
	int long_line;		/* the first line that was too long, or 0 */
};

/*
 * libinih (Debian's, INI_MAX_LINE 200) would split a longer line in two and
 * read its tail as a line of its own; this reader refuses such a file instead.
 */
static char *
read_line(char *str, int num, void *stream)
{
	struct load_ctx *lc = stream;
	size_t len;

	if (fgets(str, num, lc->f) == NULL)
		return NULL;
	lc->line++;
	len = strlen(str);
	if (len > 0 && str[len - 1] != '\n' && !feof(lc->f)) {
		lc->long_line = lc->line;
		return NULL;	/* stop parsing */
	}
	return str;
}

static int
on_ini(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *lc = user;

	if (lc->failed)
		return 1;
	if (name == NULL)
		return 1;	/* a section header alone */
	if (kz_config_set(lc->cfg, section, name, value, lc->msg,
	    sizeof(lc->msg)) < 0) {
		lc->failed = 1;
		return 0;	/* libinih reports the line */
	}
	/* libinih calls this while the line read last is the one parsed. */
	lc->cfg->lines[find_row(section, name)] = lc->line;
	return 1;
}

int
kz_config_load(struct kz_config *cfg, const char *path, char *err, size_t errlen)
{
	struct load_ctx lc = { .cfg = cfg };
	struct stat sb;
	FILE *f;
	int line;

	f = fopen(path, "r");
	if (f == NULL) {
		if (errno == ENOENT)
			return KZ_ERR_NOT_FOUND;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return KZ_ERR_CONFIG;
	}
	if (fstat(fileno(f), &sb) < 0 || !S_ISREG(sb.st_mode)) {
		fclose(f);
		snprintf(err, errlen, "%s: not a regular file", path);
		return KZ_ERR_CONFIG;
	}
	lc.f = f;
	line = ini_parse_stream(read_line, &lc, on_ini, &lc);
	fclose(f);
	if (lc.long_line != 0 && (line == 0 || line >= lc.long_line)) {
		snprintf(err, errlen, "%s:%d: line too long (at most %d characters)",
		    path, lc.long_line, KZ_CONFIG_LINE_MAX);
		return KZ_ERR_CONFIG;
	}
	if (line != 0) {
		snprintf(err, errlen, "%s:%d: %s", path, line,
		    lc.failed ? lc.msg : "syntax error");
		return KZ_ERR_CONFIG;
	}
	return 0;
}

int
kz_config_default_text(char **out)
{
	char *buf = NULL;
	size_t len = 0, i;
	const char *section = NULL;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return KZ_ERR_NOMEM;
	fprintf(f, "# kizuna node configuration.\n"
	    "# Every setting is shown at its default; a node runs without this file.\n");
	for (i = 0; i < N_ROWS; i++) {
		const struct cfg_row *r = &rows[i];

		if (section == NULL || strcmp(section, r->section) != 0) {
			fprintf(f, "\n[%s]\n", r->section);
			section = r->section;
		}
		fprintf(f, "# %s\n", r->help);
		if (r->type == CFG_INT)
			fprintf(f, "# (%ld to %ld)\n", r->min, r->max);
		else if (r->type == CFG_HEX)
			fprintf(f, "# (0x%02lx to 0x%02lx)\n", r->min, r->max);
		else if (r->type == CFG_BOOL)
			fprintf(f, "# (true or false)\n");
		fprintf(f, "%s = %s\n", r->name, r->def);
	}
	if (fclose(f) != 0) {
		free(buf);
		return KZ_ERR_NOMEM;
	}
	*out = buf;
	return 0;
}
