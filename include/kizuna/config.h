/*
 * Configuration: one table of settings (name, type, default, bounds, help),
 * read from an INI file by libinih.  Every setting has a default, so a node
 * runs with no file at all; the default file is generated from the same
 * table, so documentation and code cannot drift apart.
 */
#ifndef KIZUNA_CONFIG_H
#define KIZUNA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kizuna/log.h"

#define KZ_CONFIG_STR_MAX 256
/* Longest line of a config file, newline excluded (libinih's INI_MAX_LINE - 2). */
#define KZ_CONFIG_LINE_MAX 198
/* Longest path setting: it must fit on one line with its name. */
#define KZ_CONFIG_PATH_MAX 160

/* Longest host in a HOST:PORT setting (a name, or an address without brackets). */
#define KZ_CONFIG_HOST_MAX 100
/* Most peers [net] peers may list. */
#define KZ_CONFIG_PEERS_MAX 16
/* Most settings the table may hold (kz_config_line keeps one line each). */
#define KZ_CONFIG_ROWS_MAX 64

/* [radio] compress: the most a radio link's compression may be. */
enum kz_config_compress {
	KZ_CONFIG_COMPRESS_NONE = 0,
	KZ_CONFIG_COMPRESS_ZSTD = 1,
	KZ_CONFIG_COMPRESS_DICT = 2
};

/* [net] profile: what the TCP links' line is (docs/sync.md, "Link profiles"). */
enum kz_config_profile {
	KZ_CONFIG_PROFILE_LAN = 0,	/* fast: big runs, no compression */
	KZ_CONFIG_PROFILE_SLOW = 1	/* a slow line: priorities, small queues */
};

/* [net] compress: AUTO, or a kz_config_compress plus one. */
#define KZ_CONFIG_NET_COMPRESS_AUTO 0

/*
 * Every setting, already checked against its row of the table: a HOST:PORT
 * string parses with kz_hostport_parse, the peer list with kz_config_peers.
 */
struct kz_config {
	char node_name[KZ_CONFIG_STR_MAX];
	char store_path[KZ_CONFIG_STR_MAX];
	int log_level;			/* enum kz_log_level */
	char control_socket[KZ_CONFIG_STR_MAX];	/* relative: inside the home */
	char net_listen[KZ_CONFIG_STR_MAX];	/* HOST:PORT, or "" (none) */
	char net_peers[KZ_CONFIG_STR_MAX];	/* HOST:PORT, ... or "" */
	bool net_discovery;
	char net_discovery_address[KZ_CONFIG_STR_MAX];	/* an IPv4 address */
	char net_discovery_interface[KZ_CONFIG_STR_MAX];	/* IPv4, or "" */
	int net_discovery_port;
	int net_discovery_interval_s;
	int net_keepalive_s;
	int net_reconnect_max_s;
	int net_profile;		/* enum kz_config_profile */
	int net_compress;		/* KZ_CONFIG_NET_COMPRESS_AUTO or mode+1 */
	bool net_link_reports;		/* write link reports at all */
	int net_link_report_min_s;	/* between two link reports */
	int net_link_report_settle_s;	/* start to the first one */
	int net_link_report_refresh_s;	/* an unchanged one again; 0 never */
	char http_listen[KZ_CONFIG_STR_MAX];	/* HOST:PORT, or "" (none) */
	char http_web_root[KZ_CONFIG_STR_MAX];	/* "": found (http.c) */
	int http_session_idle_s;
	char courier_folder[KZ_CONFIG_STR_MAX];	/* "" (none), or a folder */
	int courier_interval_s;
	bool courier_write;
	/*
	 * [radio]: one point-to-point link through a KISS modem.  Each value
	 * is checked alone here (a callsign's syntax, a range); kizunad checks
	 * them together (kz_radio_check_opts) and names the line at fault.
	 */
	char radio_device[KZ_CONFIG_STR_MAX];	/* "" (none), a tty, tcp:H:P */
	int radio_speed;		/* serial baud */
	int radio_bit_rate;		/* the modem's rate on air, bits/s */
	char radio_mycall[KZ_CONFIG_STR_MAX];	/* "" or a valid callsign */
	char radio_peercall[KZ_CONFIG_STR_MAX];
	bool radio_ax25;
	int radio_kiss_port;
	int radio_pid;			/* 0x00 .. 0xfe */
	int radio_txdelay_ms, radio_persist, radio_slottime_ms, radio_txtail_ms;
	int radio_frame_max;
	int radio_compress;		/* enum kz_config_compress */
	int radio_keepalive_s;
	/* The line of the loaded file that set each row (0: the default). */
	int lines[KZ_CONFIG_ROWS_MAX];
};

struct kz_hostport {
	char host[KZ_CONFIG_HOST_MAX + 1];	/* without IPv6 brackets */
	uint16_t port;
	bool numeric;			/* host is an IPv4 or IPv6 address */
};

/* Fills every setting with its default. */
void kz_config_defaults(struct kz_config *cfg);

/*
 * Reads path over the defaults already in cfg.  Returns 0, KZ_ERR_NOT_FOUND
 * if the file does not exist, or KZ_ERR_CONFIG with "FILE:LINE: reason" in
 * err (errlen bytes) for an unknown section or key, a bad value or a line
 * over KZ_CONFIG_LINE_MAX characters.  On error cfg may hold the settings
 * read before the bad line: do not use it.
 */
int kz_config_load(struct kz_config *cfg, const char *path, char *err,
    size_t errlen);

/* Sets one setting from text, as a line of the file would. */
int kz_config_set(struct kz_config *cfg, const char *section, const char *name,
    const char *value, char *err, size_t errlen);

/* The documented default file, malloc'd; the caller frees it. */
int kz_config_default_text(char **out);

/*
 * The line of the file read by kz_config_load that set [section] name, or 0
 * when the setting kept its default (or was set by kz_config_set) or is no
 * setting at all.
 */
int kz_config_line(const struct kz_config *cfg, const char *section,
    const char *name);

/*
 * Parses "HOST:PORT": an IPv4 address, a DNS name, or an IPv6 address in
 * brackets ("[2001:db8::1]:7420").  With listen, HOST must be an address (a
 * node binds to it) and PORT may be 0 (any free port); otherwise PORT is 1 to
 * 65535.  Returns 0 or KZ_ERR_INVAL.
 */
int kz_hostport_parse(struct kz_hostport *out, const char *text, bool listen);

/*
 * The peers of [net] peers, in the order listed, into peers (room for
 * KZ_CONFIG_PEERS_MAX); *n is how many.  Returns 0 or KZ_ERR_INVAL (only for
 * a list that kz_config_set would have refused).
 */
/*
 * The most compression a TCP link may use (an enum kz_config_compress):
 * [net] compress, or with "auto" what [net] profile implies (none on a
 * LAN, dict on a slow line).
 */
int kz_config_net_compress(const struct kz_config *cfg);

int kz_config_peers(const struct kz_config *cfg,
    struct kz_hostport peers[KZ_CONFIG_PEERS_MAX], size_t *n);

/*
 * Resolves a path setting as the node does: an absolute path stays as it is,
 * a relative one is inside the node's home folder.  Returns 0 or
 * KZ_ERR_INVAL if the result does not fit len.
 */
int kz_config_home_path(char *buf, size_t len, const char *home,
    const char *path);

#endif
