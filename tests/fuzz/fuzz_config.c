/*
 * Fuzz target: the config file reader (kz_config_load) over a temporary
 * file holding the input.
 *
 * Invariants: the result is 0 or KZ_ERR_CONFIG, whose message is a
 * NUL-terminated "FILE:LINE: reason" naming the file; a file that loads
 * leaves only settings the table accepts: every string NUL-terminated,
 * valid UTF-8 and within its row's bounds, HOST:PORT settings that parse,
 * a peer list kz_config_peers splits, integers within their bounds,
 * callsigns that parse, enums within their choices.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "kizuna/config.h"
#include "kizuna/err.h"
#include "kizuna/kiss.h"
#include "kizuna/log.h"
#include "kizuna/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_str(const char *s, size_t max, const char *name)
{
	size_t len = strnlen(s, KZ_CONFIG_STR_MAX);

	KZF_CHECK(len < KZ_CONFIG_STR_MAX, "config: %s not terminated", name);
	KZF_CHECK(len <= max, "config: %s is %zu bytes", name, len);
	KZF_CHECK(kz_utf8_valid((const uint8_t *)s, len),
	    "config: %s is not UTF-8", name);
}

static void
check_hostport(const char *s, const char *name)
{
	struct kz_hostport hp;

	check_str(s, KZ_CONFIG_HOST_MAX + 8, name);
	if (s[0] != '\0')
		KZF_CHECK(kz_hostport_parse(&hp, s, true) == 0,
		    "config: %s '%s' accepted but does not parse", name, s);
}

/* An accepted callsign setting is empty or parses as one. */
static void
check_call(const char *s, const char *name)
{
	struct kz_ax25_addr a;

	check_str(s, KZ_AX25_CALL_STR, name);
	if (s[0] != '\0')
		KZF_CHECK(kz_ax25_addr_parse(&a, s, NULL) == 0,
		    "config: %s '%s' accepted but does not parse", name, s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = kzf_tmpfile("config", data, size);
	struct kz_config cfg;
	struct kz_hostport peers[KZ_CONFIG_PEERS_MAX];
	char err[256], home[KZ_CONFIG_STR_MAX * 2 + 2];
	size_t n, i;
	int rc;

	kz_config_defaults(&cfg);
	memset(err, 0x5a, sizeof(err));
	rc = kz_config_load(&cfg, path, err, sizeof(err));
	if (rc < 0) {
		KZF_CHECK(rc == KZ_ERR_CONFIG, "config: unexpected %s",
		    kz_errname(rc));
		KZF_CHECK(memchr(err, 0, sizeof(err)) != NULL,
		    "config: error message not terminated");
		KZF_CHECK(strncmp(err, path, strlen(path)) == 0 &&
		    err[strlen(path)] == ':', "config: error does not name the "
		    "file: %s", err);
		return 0;
	}
	check_str(cfg.node_name, 63, "node name");
	check_str(cfg.store_path, KZ_CONFIG_PATH_MAX, "store path");
	KZF_CHECK(cfg.store_path[0] != '\0', "config: empty store path");
	check_str(cfg.control_socket, KZ_CONFIG_PATH_MAX, "control socket");
	KZF_CHECK(cfg.control_socket[0] != '\0', "config: empty socket");
	KZF_CHECK(cfg.log_level >= KZ_LOG_ERR && cfg.log_level <= KZ_LOG_DEBUG,
	    "config: log level %d", cfg.log_level);
	check_hostport(cfg.net_listen, "net listen");
	check_hostport(cfg.http_listen, "http listen");
	check_str(cfg.net_peers, KZ_CONFIG_LINE_MAX, "net peers");
	rc = kz_config_peers(&cfg, peers, &n);
	KZF_CHECK(rc == 0, "config: peers '%s' accepted but do not split",
	    cfg.net_peers);
	KZF_CHECK(n <= KZ_CONFIG_PEERS_MAX, "config: %zu peers", n);
	for (i = 0; i < n; i++)
		KZF_CHECK(peers[i].port != 0 && peers[i].host[0] != '\0',
		    "config: peer %zu", i);
	KZF_CHECK(cfg.net_discovery_port >= 1 && cfg.net_discovery_port <= 65535,
	    "config: discovery port");
	KZF_CHECK(cfg.net_keepalive_s >= 1 && cfg.net_keepalive_s <= 300,
	    "config: keepalive");
	KZF_CHECK(cfg.net_reconnect_max_s >= 1 &&
	    cfg.net_reconnect_max_s <= 3600, "config: reconnect");
	KZF_CHECK(cfg.net_profile == KZ_CONFIG_PROFILE_LAN ||
	    cfg.net_profile == KZ_CONFIG_PROFILE_SLOW, "config: profile %d",
	    cfg.net_profile);
	KZF_CHECK(kz_config_net_compress(&cfg) >= KZ_CONFIG_COMPRESS_NONE &&
	    kz_config_net_compress(&cfg) <= KZ_CONFIG_COMPRESS_DICT,
	    "config: net compress %d", cfg.net_compress);
	check_str(cfg.courier_folder, KZ_CONFIG_PATH_MAX, "courier folder");
	KZF_CHECK(cfg.courier_interval_s >= 1 && cfg.courier_interval_s <= 3600,
	    "config: courier interval");
	/* [radio]: each value alone (kizunad checks them together). */
	check_str(cfg.radio_device, KZ_CONFIG_PATH_MAX, "radio device");
	KZF_CHECK(cfg.radio_speed >= 300 && cfg.radio_speed <= 230400 &&
	    cfg.radio_bit_rate >= 300 && cfg.radio_bit_rate <= 115200,
	    "config: radio rates");
	check_call(cfg.radio_mycall, "radio mycall");
	check_call(cfg.radio_peercall, "radio peercall");
	KZF_CHECK(cfg.radio_kiss_port >= 0 && cfg.radio_kiss_port <= 15 &&
	    cfg.radio_pid >= 0 && cfg.radio_pid <= 0xfe, "config: kiss port, pid");
	KZF_CHECK(cfg.radio_txdelay_ms >= 0 && cfg.radio_txdelay_ms <= 2550 &&
	    cfg.radio_slottime_ms >= 0 && cfg.radio_slottime_ms <= 2550 &&
	    cfg.radio_txtail_ms >= 0 && cfg.radio_txtail_ms <= 2550 &&
	    cfg.radio_persist >= 0 && cfg.radio_persist <= 255,
	    "config: channel access");
	KZF_CHECK(cfg.radio_frame_max >= 48 && cfg.radio_frame_max <= 1023,
	    "config: frame_max %d", cfg.radio_frame_max);
	KZF_CHECK(cfg.radio_compress >= KZ_CONFIG_COMPRESS_NONE &&
	    cfg.radio_compress <= KZ_CONFIG_COMPRESS_DICT,
	    "config: radio compress");
	KZF_CHECK(cfg.radio_keepalive_s >= 1 && cfg.radio_keepalive_s <= 3600,
	    "config: radio keepalive");
	/* Path settings resolve inside a home folder of ordinary length. */
	KZF_CHECK(kz_config_home_path(home, sizeof(home), "/var/lib/kizuna",
	    cfg.store_path) == 0, "config: store path does not resolve");
	KZF_CHECK(kz_config_home_path(home, sizeof(home), "/var/lib/kizuna",
	    cfg.control_socket) == 0, "config: socket does not resolve");
	return 0;
}
