// SPDX-License-Identifier: GPL-2.0
/*
 * remusd: the Remus daemon.
 *
 *   remusd primary [OPTIONS] --peer HOST:PORT [ -- PROGRAM ARGS... ]
 *   remusd backup  [OPTIONS] --listen HOST:PORT [ -- PROGRAM ARGS... ]
 *
 * Options come from the command line and from a config file (--config),
 * whose lines are "option value" or "option" with the long option names;
 * the command line wins. Logs go to stderr (and syslog with --syslog).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "announce.h"
#include "backend_proc.h"
#include "backend_xen.h"
#include "backup.h"
#include "ctlsock.h"
#include "link.h"
#include "netbuf.h"
#include "nl.h"
#include "proc/proc.h"
#include "remus.h"
#include "remusd.h"

#define MAX_ITEMS 16

struct opts {
	const char *role;
	const char *guest;		/* "proc" (PROGRAM after --), "proc:pid=N" */
	const char *guest_desc;		/* descriptor file, with proc:pid */
	const char *peer;
	const char *listen;
	const char *key;
	bool no_key, encrypt;
	unsigned int interval_us;
	unsigned int pipeline;
	const char *compress;
	bool no_delta;
	unsigned int delta_cache;
	unsigned int xen_delta_mib;
	unsigned int heartbeat_ms, timeout_ms, reconnect_ms;
	const char *policy;
	bool blackhole, no_repair, once, no_attach, no_precopy;
	const char *dirty;
	const char *name, *socket;
	const char *image;
	const char *repair_peer;
	const char *receiver;
	const char *nets[MAX_ITEMS];
	unsigned int nr_nets;
	const char *disks[MAX_ITEMS];
	unsigned int nr_disks;
	const char *announce[MAX_ITEMS];
	unsigned int nr_announce;
	int log_level;
	bool use_syslog;
	int progress;			/* -1: when stderr is a tty */
	char **prog;			/* after -- */
};

static struct remusd D = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};
static struct opts O;
static bool tty;
static uint64_t t_start;

/* ---- logging ---- */

static const char *const level_names[] = {
	[REMUS_LOG_ERR] = "error", [REMUS_LOG_WARN] = "warning",
	[REMUS_LOG_NOTICE] = "notice", [REMUS_LOG_INFO] = "info",
	[REMUS_LOG_DEBUG] = "debug",
};

static void log_msg(void *data, enum remus_log_level level, const char *msg)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO,
				    LOG_DEBUG };
	double t = (double)(remus_now_ns() - t_start) / 1e9;

	if (tty && O.progress)
		fputs("\r\033[K", stderr);
	fprintf(stderr, "[%9.3f] remusd %s: %s: %s\n", t, D.role,
		level_names[level], msg);
	if (O.use_syslog)
		syslog(prio[level], "%s", msg);
}

static struct remus_ctx ctx = {
	.log = log_msg,
	.level = REMUS_LOG_NOTICE,
};

#define LOGF(lvl, ...) remus_log(&ctx, REMUS_LOG_##lvl, __VA_ARGS__)

/* ---- options ---- */

enum {
	OPT_GUEST = 256, OPT_GUEST_DESC, OPT_PEER, OPT_LISTEN, OPT_KEY,
	OPT_NO_KEY, OPT_ENCRYPT, OPT_INTERVAL, OPT_PIPELINE, OPT_COMPRESS,
	OPT_NO_DELTA, OPT_DELTA_CACHE, OPT_HEARTBEAT, OPT_TIMEOUT,
	OPT_RECONNECT, OPT_POLICY, OPT_BLACKHOLE, OPT_NO_REPAIR, OPT_ONCE,
	OPT_DIRTY, OPT_NAME, OPT_SOCKET, OPT_IMAGE, OPT_REPAIR_PEER, OPT_NET,
	OPT_DISK, OPT_LOG_LEVEL, OPT_SYSLOG, OPT_PROGRESS, OPT_NO_PROGRESS,
	OPT_CONFIG, OPT_NO_ATTACH, OPT_RECEIVER, OPT_NO_PRECOPY, OPT_ANNOUNCE,
	OPT_XEN_DELTA_CACHE,
};

static const struct option long_opts[] = {
	{ "guest", required_argument, NULL, OPT_GUEST },
	{ "guest-desc", required_argument, NULL, OPT_GUEST_DESC },
	{ "peer", required_argument, NULL, OPT_PEER },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "no-key", no_argument, NULL, OPT_NO_KEY },
	{ "encrypt", no_argument, NULL, OPT_ENCRYPT },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "pipeline", required_argument, NULL, OPT_PIPELINE },
	{ "compress", required_argument, NULL, OPT_COMPRESS },
	{ "no-delta", no_argument, NULL, OPT_NO_DELTA },
	{ "delta-cache", required_argument, NULL, OPT_DELTA_CACHE },
	{ "xen-delta-cache", required_argument, NULL, OPT_XEN_DELTA_CACHE },
	{ "heartbeat", required_argument, NULL, OPT_HEARTBEAT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "reconnect", required_argument, NULL, OPT_RECONNECT },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "blackhole", no_argument, NULL, OPT_BLACKHOLE },
	{ "no-repair", no_argument, NULL, OPT_NO_REPAIR },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "dirty", required_argument, NULL, OPT_DIRTY },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "image", required_argument, NULL, OPT_IMAGE },
	{ "repair-peer", required_argument, NULL, OPT_REPAIR_PEER },
	{ "net", required_argument, NULL, OPT_NET },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "no-attach", no_argument, NULL, OPT_NO_ATTACH },
	{ "receiver", required_argument, NULL, OPT_RECEIVER },
	{ "announce", required_argument, NULL, OPT_ANNOUNCE },
	{ "no-precopy", no_argument, NULL, OPT_NO_PRECOPY },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "syslog", no_argument, NULL, OPT_SYSLOG },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: remusd primary --peer HOST:PORT [OPTIONS] [-- PROGRAM ARGS...]\n"
"       remusd backup --listen HOST:PORT [OPTIONS] [-- PROGRAM ARGS...]\n"
"\n"
"Guest (primary):\n"
"  --guest proc               start PROGRAM ARGS as a proc guest (default)\n"
"  --guest proc:pid=N --guest-desc FILE   protect a running proc guest\n"
"  --guest xen:DOMAIN         a PVH domain (name or domid); its vifs are\n"
"                             buffered unless --net names others\n"
"  --dirty auto|pagemap-scan|soft-dirty|full   dirty-page tracking\n"
"Replication:\n"
"  --peer HOST:PORT           the backup (primary)\n"
"  --listen HOST:PORT         where to wait for the primary (backup)\n"
"  --key FILE | --no-key      pre-shared key (32 bytes raw or 64 hex)\n"
"  --encrypt                  encrypt the link as well\n"
"  --interval T               checkpoint period: 25ms (default), 1ms, 500us\n"
"  --pipeline N               checkpoints in flight (1 = classic Remus)\n"
"  --no-precopy               copy everything in the pause (default: copy\n"
"                             early while the guest runs, when tracking can)\n"
"  --compress lz4|zlib|zstd|none  general compressor (default lz4)\n"
"  --no-delta, --delta-cache PAGES  XOR delta against the last sent copy\n"
"  --xen-delta-cache MIB      xen: the stream's pages as XOR deltas against\n"
"                             a cache of MIB (default 64, at most 1024, the\n"
"                             backup mirrors it); 0 (or --no-delta) sends\n"
"                             them as they are\n"
"  --heartbeat MS --timeout MS --reconnect MS   (100, 1000, 1000)\n"
"  --policy continue|pause    on backup loss (default continue)\n"
"  --no-repair                end instead of re-pairing on backup loss\n"
"  --blackhole                checkpoint to nowhere (cost of the primary)\n"
"Output buffers:\n"
"  --net IFACE                buffer the guest's interface (repeatable);\n"
"                             attached at start unless --no-attach\n"
"  --disk NAME                remus dm device of the guest (repeatable):\n"
"                             replicate mode on the primary, stage mode\n"
"                             on the backup; both copies must start equal\n"
"Backup:\n"
"  --guest proc|xen           what it receives (default proc)\n"
"  --receiver CMD             xen: libxl's Remus receiver (default\n"
"                             \"exec xl migrate-receive -r -e\")\n"
"  --announce ADDR            xen: after failover, announce the guest's\n"
"                             address (gratuitous ARP or unsolicited NA\n"
"                             with its MAC, from its vif's bridge)\n"
"  --image FILE               where the committed image goes on failover\n"
"  -- PROGRAM ARGS            the guest program, started from the image\n"
"  --repair-peer HOST:PORT    after failover, protect the guest again\n"
"  --once                     return after an orderly stop of the primary\n"
"Daemon:\n"
"  --name NAME | --socket PATH   control socket (/run/remus/NAME.sock)\n"
"  --config FILE  --log-level err|warn|notice|info|debug  --syslog\n"
"  --progress | --no-progress live one-line display (default on a tty)\n");
}

static int die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "remusd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry \"remusd --help\".\n");
	exit(2);
}

static unsigned int parse_uint(const char *opt, const char *s,
			       unsigned int min, unsigned int max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || *s == '-' || v < min || v > max)
		die_usage("--%s: want a number in %u..%u, not \"%s\"", opt, min,
			  max, s);
	return (unsigned int)v;
}

/* "25", "25ms", "500us", "1s" into microseconds. */
static unsigned int parse_interval(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v <= 0)
		die_usage("--interval: bad value \"%s\"", s);
	if (!*end || !strcmp(end, "ms"))
		v *= 1000;
	else if (!strcmp(end, "s"))
		v *= 1e6;
	else if (strcmp(end, "us"))
		die_usage("--interval: bad unit in \"%s\"", s);
	if (v < 1000 || v > 60e6)
		die_usage("--interval: want 1ms..60s, not \"%s\"", s);
	return (unsigned int)v;
}

static void config_file(const char *path);

static void set_opt(int c, const char *arg)
{
	switch (c) {
	case OPT_GUEST: O.guest = arg; break;
	case OPT_GUEST_DESC: O.guest_desc = arg; break;
	case OPT_PEER: O.peer = arg; break;
	case OPT_LISTEN: O.listen = arg; break;
	case OPT_KEY: O.key = arg; break;
	case OPT_NO_KEY: O.no_key = true; break;
	case OPT_ENCRYPT: O.encrypt = true; break;
	case OPT_INTERVAL: O.interval_us = parse_interval(arg); break;
	case OPT_PIPELINE: O.pipeline = parse_uint("pipeline", arg, 1, 64); break;
	case OPT_COMPRESS: O.compress = arg; break;
	case OPT_NO_DELTA: O.no_delta = true; break;
	case OPT_DELTA_CACHE:
		O.delta_cache = parse_uint("delta-cache", arg, 0, 1u << 24);
		break;
	case OPT_XEN_DELTA_CACHE:
		O.xen_delta_mib = parse_uint("xen-delta-cache", arg, 0, 1024);
		break;
	case OPT_HEARTBEAT:
		O.heartbeat_ms = parse_uint("heartbeat", arg, 1, 60000);
		break;
	case OPT_TIMEOUT: O.timeout_ms = parse_uint("timeout", arg, 2, 600000); break;
	case OPT_RECONNECT:
		O.reconnect_ms = parse_uint("reconnect", arg, 1, 600000);
		break;
	case OPT_POLICY: O.policy = arg; break;
	case OPT_BLACKHOLE: O.blackhole = true; break;
	case OPT_NO_REPAIR: O.no_repair = true; break;
	case OPT_ONCE: O.once = true; break;
	case OPT_DIRTY: O.dirty = arg; break;
	case OPT_NAME: O.name = arg; break;
	case OPT_SOCKET: O.socket = arg; break;
	case OPT_IMAGE: O.image = arg; break;
	case OPT_REPAIR_PEER: O.repair_peer = arg; break;
	case OPT_NET:
		if (O.nr_nets == MAX_ITEMS)
			die_usage("--net: at most %d", MAX_ITEMS);
		O.nets[O.nr_nets++] = arg;
		break;
	case OPT_DISK:
		if (O.nr_disks == MAX_ITEMS)
			die_usage("--disk: at most %d", MAX_ITEMS);
		O.disks[O.nr_disks++] = arg;
		break;
	case OPT_NO_ATTACH: O.no_attach = true; break;
	case OPT_RECEIVER: O.receiver = arg; break;
	case OPT_ANNOUNCE: {
		struct in6_addr a;

		if (O.nr_announce == MAX_ITEMS)
			die_usage("--announce: at most %d", MAX_ITEMS);
		if (inet_pton(AF_INET, arg, &a) != 1 &&
		    inet_pton(AF_INET6, arg, &a) != 1)
			die_usage("--announce: not an IPv4 or IPv6 address: \"%s\"",
				  arg);
		O.announce[O.nr_announce++] = arg;
		break;
	}
	case OPT_NO_PRECOPY: O.no_precopy = true; break;
	case OPT_LOG_LEVEL: {
		static const char *const n[] = { "err", "warn", "notice",
						 "info", "debug" };
		int i;

		for (i = 0; i < 5 && strcmp(arg, n[i]); i++)
			;
		if (i == 5)
			die_usage("--log-level: err|warn|notice|info|debug");
		O.log_level = i;
		break;
	}
	case OPT_SYSLOG: O.use_syslog = true; break;
	case OPT_PROGRESS: O.progress = 1; break;
	case OPT_NO_PROGRESS: O.progress = 0; break;
	case OPT_CONFIG: config_file(arg); break;
	default:
		die_usage("bad option");
	}
}

/* Lines "name value" or "name"; '#' starts a comment. The strings stay
 * allocated for the life of the process, as argv does. */
static void config_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int lineno = 0;

	if (!f) {
		fprintf(stderr, "remusd: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *name, *val;
		const struct option *o;

		lineno++;
		p[strcspn(p, "#\n")] = '\0';
		name = strtok(p, " \t");
		if (!name)
			continue;
		val = strtok(NULL, " \t");
		for (o = long_opts; o->name && strcmp(o->name, name); o++)
			;
		if (!o->name || o->val == OPT_CONFIG || o->val == 'h')
			die_usage("%s:%d: unknown option \"%s\"", path, lineno,
				  name);
		if ((o->has_arg == required_argument) != (val != NULL))
			die_usage("%s:%d: option \"%s\" %s a value", path,
				  lineno, name,
				  val ? "takes no" : "needs");
		set_opt(o->val, val ? strdup(val) : NULL);
	}
	fclose(f);
}

static void parse_args(int argc, char **argv)
{
	int c;

	O.interval_us = 25000;
	O.pipeline = 1;
	O.compress = "lz4";
	O.delta_cache = 16384;
	O.xen_delta_mib = 64;
	O.heartbeat_ms = 100;
	O.timeout_ms = 1000;
	O.reconnect_ms = 1000;
	O.policy = "continue";
	O.guest = "proc";
	O.log_level = REMUS_LOG_NOTICE;
	O.progress = -1;

	if (argc < 2)
		die_usage("missing role: primary or backup");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		exit(0);
	}
	if (strcmp(argv[1], "primary") && strcmp(argv[1], "backup"))
		die_usage("role \"%s\" is unknown: primary or backup", argv[1]);
	O.role = argv[1];
	argv++;
	argc--;
	while ((c = getopt_long(argc, argv, "+h", long_opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == '?')
			die_usage("bad option");
		set_opt(c, optarg);
	}
	if (optind < argc)
		O.prog = argv + optind;
	if (!O.no_key && !O.key)
		die_usage("give --key FILE, or --no-key to run the link unauthenticated");
	if (O.no_key && O.key)
		die_usage("--key and --no-key together");
	if (O.no_key && O.encrypt)
		die_usage("--encrypt needs --key");
	if (O.timeout_ms <= O.heartbeat_ms)
		die_usage("--timeout must be longer than --heartbeat");
	if (strcmp(O.policy, "continue") && strcmp(O.policy, "pause"))
		die_usage("--policy: continue or pause");
	if (!strcmp(O.role, "primary")) {
		if (!O.peer && !O.blackhole)
			die_usage("primary: give --peer HOST:PORT (or --blackhole)");
		if (!strcmp(O.guest, "proc") && !O.prog)
			die_usage("--guest proc: give the program after --");
		if (!strncmp(O.guest, "xen:", 4) && !O.guest[4])
			die_usage("--guest xen:DOMAIN: name or domid");
	} else {
		if (!O.listen)
			die_usage("backup: give --listen HOST:PORT");
		if (strcmp(O.guest, "xen") && strcmp(O.guest, "proc"))
			die_usage("backup: --guest proc (default) or xen");
		if (!strcmp(O.guest, "proc") && !O.prog)
			die_usage("backup: give the guest program after --, to start it on failover");
		if (O.nr_announce && strcmp(O.guest, "xen"))
			die_usage("--announce is for --guest xen (a proc guest's addresses are announced from its namespace)");
	}
	if (O.progress < 0)
		O.progress = isatty(STDERR_FILENO);
	ctx.level = (enum remus_log_level)O.log_level;
}

/* ---- signals ---- */

static void on_signal(int sig)
{
	(void)sig;
	/* engine and backup stop calls are async-signal-safe; the lock is
	 * not, so read the pointers racily: they are set before signals
	 * matter and cleared only after the engine is gone. */
	D.stop = true;
	if (D.engine)
		remus_engine_stop(D.engine);
	if (D.backup)
		remus_backup_stop(D.backup);
}

static void signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* ---- primary ---- */

static void engine_started(void *data, struct remus_engine *e)
{
	pthread_mutex_lock(&D.lock);
	D.engine = e;
	D.state = e ? "checkpointing" : "stopped";
	pthread_mutex_unlock(&D.lock);
	if (e && D.stop)
		remus_engine_stop(e);
}

static void on_epoch(void *data, const struct remus_epoch_stats *st)
{
	static uint64_t last_print;
	uint64_t now = remus_now_ns();

	if (!O.progress || now - last_print < 200000000ull)
		return;
	last_print = now;
	fprintf(stderr, "\r\033[Kepoch %" PRIu64 "  pages %" PRIu64
		"  pause %.3f ms (copy %.3f)  send %.3f ms  ack %.3f ms  %.1f:1",
		st->epoch, st->pages, (double)st->pause_ns / 1e6,
		(double)st->copy_ns / 1e6, (double)st->send_ns / 1e6,
		(double)st->ack_ns / 1e6,
		st->wire_bytes ? (double)st->raw_bytes / (double)st->wire_bytes : 0.0);
	fflush(stderr);
}

/*
 * Crash tests: REMUS_FAULT=POINT[:N] kills this daemon with SIGKILL at the
 * N-th time (default 1) the engine passes POINT (see remus_info.fault);
 * REMUS_FAULT=POINT:FILE (a path) at the first pass once FILE exists (a
 * test picks the moment, the daemon the point in the protocol; a file, not
 * a signal, which would interrupt whatever the daemon is waiting in).
 * REMUS_FAULT_STOP=1 stops it there (SIGSTOP) instead: its sockets stay
 * open and silent, as on a hung host, until the test kills it.
 */
static const char *fault_point, *fault_file;
static unsigned long fault_after = 1, fault_hits;
static bool fault_stop;

static void fault_hook(void *data, const char *point, uint64_t epoch)
{
	char msg[128];
	int n;

	if ((fault_file && access(fault_file, F_OK)) || strcmp(point, fault_point) ||
	    __atomic_add_fetch(&fault_hits, 1, __ATOMIC_SEQ_CST) != fault_after)
		return;
	n = snprintf(msg, sizeof(msg), "remusd: REMUS_FAULT: %s at %s, epoch %" PRIu64 "\n",
		     fault_stop ? "stopped" : "killed", point, epoch);
	if (write(STDERR_FILENO, msg, (size_t)n) < 0)
		n = 0;
	raise(fault_stop ? SIGSTOP : SIGKILL);
}

static void fault_setup(struct remus_info *info)
{
	static char point[256];
	const char *env = getenv("REMUS_FAULT");
	char *colon;

	if (!env || !*env)
		return;
	snprintf(point, sizeof(point), "%s", env);
	colon = strchr(point, ':');
	if (colon && colon[1] == '/') {
		*colon = '\0';
		fault_file = colon + 1;
	} else if (colon) {
		*colon = '\0';
		fault_after = strtoul(colon + 1, NULL, 10);
		if (!fault_after)
			fault_after = 1;
	}
	fault_point = point;
	fault_stop = (env = getenv("REMUS_FAULT_STOP")) && !strcmp(env, "1");
	info->fault = fault_hook;
	if (fault_file)
		LOGF(WARN, "REMUS_FAULT: this daemon will %s itself at %s once %s exists",
		     fault_stop ? "stop" : "kill", fault_point, fault_file);
	else
		LOGF(WARN, "REMUS_FAULT: this daemon will %s itself at %s #%lu",
		     fault_stop ? "stop" : "kill", fault_point, fault_after);
}

struct peer {
	struct remus_addr a;
	unsigned int timeout_ms;
};

static int connect_peer(void *data)
{
	struct peer *p = data;

	return remus_tcp_connect(&p->a, (int)p->timeout_ms);
}

static int load_key(struct remus_info *info, uint8_t *key)
{
	int err;

	if (O.no_key) {
		info->auth = REMUS_WIRE_AUTH_NONE;
		LOGF(WARN, "running the replication link WITHOUT a key: unauthenticated");
		return 0;
	}
	err = remus_wire_key_load(O.key, key);
	if (err) {
		LOGF(ERR, "key %s: %s%s", O.key, strerror(-err),
		     err == -EACCES ? " (it must not be readable by group or others)" : "");
		return err;
	}
	info->auth = O.encrypt ? REMUS_WIRE_AUTH_AEAD : REMUS_WIRE_AUTH_MAC;
	info->key = key;
	return 0;
}

static bool attached[MAX_ITEMS];

static int attach_nets(void)
{
	struct remus_netbuf_attach_info ai;
	unsigned int i;
	int err;

	if (O.no_attach)
		return 0;
	for (i = 0; i < O.nr_nets; i++) {
		err = remus_netbuf_attach(O.nets[i], 0, &ai);
		if (err) {
			LOGF(ERR, "attach the net buffer of %s: %s", O.nets[i],
			     strerror(-err));
			return err;
		}
		attached[i] = !ai.already;
		LOGF(INFO, "%s buffered on %s (%s)%s", O.nets[i], ai.ifb,
		     remus_netbuf_kind_name(ai.kind),
		     ai.already ? ", already attached" : "");
		if (ai.kind == REMUS_NETBUF_PLUG)
			LOGF(WARN, "%s: remus.ko is not loaded: sch_plug holds one epoch, pipeline depth 1",
			     O.nets[i]);
	}
	return 0;
}

static void detach_nets(void)
{
	unsigned int i;

	for (i = 0; i < O.nr_nets; i++)
		if (attached[i])
			remus_netbuf_detach(O.nets[i]);
}

static int open_proc_guest(struct remus_backend *b, pid_t *pidp, bool *child,
			   struct remus_guest_desc *desc)
{
	struct remus_proc_backend_cfg cfg = { 0 };
	enum remus_dirty_method m = REMUS_DIRTY_AUTO;
	int err;

	if (O.dirty && remus_dirty_method_parse(O.dirty, &m))
		die_usage("--dirty: auto|pagemap-scan|soft-dirty|full");
	if (!*pidp) {
		struct remus_spawn sp = {
			.argv = (const char *const *)O.prog,
			.timeout_ms = 10000,
		};

		err = remus_proc_spawn(&sp, pidp, desc);
		if (err) {
			LOGF(ERR, "start the guest %s: %s", O.prog[0],
			     strerror(-err));
			return err;
		}
		*child = true;
	}
	cfg.pid = *pidp;
	cfg.desc = desc;
	cfg.child = *child;
	cfg.method = m;
	err = remus_proc_backend_open(b, &cfg);
	if (err) {
		LOGF(ERR, "protect guest pid %d: %s", (int)*pidp,
		     strerror(-err));
		return err;
	}
	D.dirty_method = remus_proc_backend_method(b);
	LOGF(NOTICE, "guest pid %d: %" PRIu64 " MiB at 0x%" PRIx64 ", dirty tracking %s%s",
	     (int)*pidp, desc->size >> 20, desc->addr, D.dirty_method,
	     desc->restored ? ", restored from an image" : "");
	return 0;
}

static int read_desc_file(const char *path, struct remus_guest_desc *desc)
{
	char buf[REMUS_GUEST_DESC_MAX];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return remus_guest_desc_parse(buf, n, desc);
}

/* The engine on an open backend, until it ends; 0 on an orderly stop. */
static int run_engine(struct remus_backend *b, const char *peer)
{
	struct remus_info info;
	static uint8_t key[REMUS_WIRE_KEY_LEN];
	struct peer p = { .timeout_ms = O.timeout_ms };
	int err, end, codec;

	remus_info_init(&info);
	info.interval_us = O.interval_us;
	info.blackhole = O.blackhole;
	info.pipeline = O.pipeline;
	info.precopy = !O.no_precopy;
	info.heartbeat_ms = O.heartbeat_ms;
	info.timeout_ms = O.timeout_ms;
	info.reconnect_ms = O.reconnect_ms;
	info.policy = strcmp(O.policy, "pause") ? REMUS_POLICY_CONTINUE :
		      REMUS_POLICY_PAUSE;
	info.repair = !O.no_repair;
	codec = remus_codec_parse(O.compress);
	if (codec < 0)
		die_usage("--compress: lz4|zlib|zstd|none");
	info.compression = codec != REMUS_CODEC_NONE || !O.no_delta;
	info.codec = (enum remus_codec)codec;
	info.delta_cache_pages = O.no_delta ? 0 : O.delta_cache;
	info.netifs = O.nets;
	info.nr_netifs = O.nr_nets;
	info.disks = O.disks;
	info.nr_disks = O.nr_disks;
	info.on_epoch = on_epoch;
	fault_setup(&info);
	err = load_key(&info, key);
	if (err)
		return 1;
	if (peer) {
		err = remus_addr_parse(peer, &p.a);
		if (err)
			die_usage("--peer: bad address \"%s\"", peer);
		info.connect = connect_peer;
		info.connect_data = &p;
	}
	if (attach_nets())
		return 1;

	ctx.started = engine_started;
	end = remus_start(&ctx, &info, b, -1, -1);
	if (O.progress)
		fputs("\r\033[K", stderr);
	switch (end) {
	case REMUS_END_STOPPED:
		LOGF(NOTICE, "stopped");
		break;
	case REMUS_END_BACKUP_LOST:
		LOGF(ERR, "backup lost, not re-pairing");
		break;
	case REMUS_END_GUEST_GONE:
		LOGF(ERR, "the guest is gone");
		break;
	case REMUS_END_GUEST_SHUTDOWN:
		LOGF(ERR, "the guest shut itself down: protection ended, the backup stood down");
		break;
	default:
		LOGF(ERR, "checkpointing failed");
		break;
	}
	detach_nets();
	return end == REMUS_END_STOPPED ? 0 : 1;
}

static int run_primary_on(pid_t pid, bool child, struct remus_guest_desc *desc,
			  const char *peer)
{
	struct remus_backend b = { 0 };
	int ret;

	if (open_proc_guest(&b, &pid, &child, desc))
		return 1;
	pthread_mutex_lock(&D.lock);
	D.guest_pid = pid;
	pthread_mutex_unlock(&D.lock);
	ret = run_engine(&b, peer);
	remus_proc_backend_close(&b);
	if (child)
		waitpid(pid, NULL, WNOHANG);
	return ret;
}

/* A PVH domain: its vifs are the net buffers unless --net says others. */
static int run_xen_primary(const char *domain)
{
	static struct remus_xen_cfg cfg;
	static const char *vifs[8];
	struct remus_backend b = { 0 };
	const char *why;
	unsigned int i;
	int err, ret, codec;

	cfg.domain = domain;
	codec = remus_codec_parse(O.compress);
	cfg.codec = codec < 0 ? REMUS_CODEC_NONE : (enum remus_codec)codec;
	cfg.delta_cache_mib = O.no_delta ? 0 : O.xen_delta_mib;
	err = remus_xen_backend_open(&b, &cfg, &why);
	if (err) {
		LOGF(ERR, "guest xen:%s: %s", domain, why ? why : strerror(-err));
		return 1;
	}
	D.dirty_method = "xen log-dirty";
	if (!O.nr_nets && !O.no_attach) {
		for (i = 0; i < cfg.nr_vifs && i < MAX_ITEMS; i++) {
			vifs[i] = cfg.vifs[i];
			O.nets[O.nr_nets++] = vifs[i];
		}
	}
	LOGF(NOTICE, "guest xen:%s: domain %u, PVH, %u vif(s) buffered", domain,
	     cfg.domid, O.nr_nets);
	ret = run_engine(&b, O.peer);
	remus_xen_backend_close(&b);
	return ret;
}

static int run_primary(void)
{
	struct remus_guest_desc desc = { 0 };
	pid_t pid = 0;
	int err;

	D.guest = O.guest;
	if (!strncmp(O.guest, "xen:", 4))
		return run_xen_primary(O.guest + 4);
	if (!strncmp(O.guest, "proc:pid=", 9)) {
		pid = (pid_t)atoi(O.guest + 9);
		if (pid <= 0 || !O.guest_desc)
			die_usage("--guest proc:pid=N needs --guest-desc FILE");
		err = read_desc_file(O.guest_desc, &desc);
		if (err) {
			LOGF(ERR, "%s: %s", O.guest_desc, strerror(-err));
			return 1;
		}
	} else if (strcmp(O.guest, "proc")) {
		die_usage("--guest: proc, proc:pid=N or xen:DOMAIN");
	}
	return run_primary_on(pid, false, &desc, O.peer);
}

/* ---- backup ---- */

static void backup_started(void *data, struct remus_backup *b)
{
	pthread_mutex_lock(&D.lock);
	D.backup = b;
	D.state = b ? "receiving" : "stopped";
	pthread_mutex_unlock(&D.lock);
	if (b && D.stop)
		remus_backup_stop(b);
}

static void on_commit(void *data, uint64_t epoch, uint64_t bytes)
{
	static uint64_t last_print;
	uint64_t now = remus_now_ns();

	pthread_mutex_lock(&D.lock);
	D.failover_epoch = epoch;
	pthread_mutex_unlock(&D.lock);
	if (!O.progress || now - last_print < 200000000ull)
		return;
	last_print = now;
	fprintf(stderr, "\r\033[Kcommitted %" PRIu64 "  %" PRIu64 " bytes", epoch,
		bytes);
	fflush(stderr);
}

/* After failover: buffers of the restored guest's interfaces let go. */
static void nets_passthrough(void)
{
	struct remus_netbuf nb;
	struct remus_nl nl;
	bool have_nl = remus_nl_open(&nl) == 0;
	unsigned int i;

	for (i = 0; i < O.nr_nets; i++) {
		if (remus_netbuf_open(&nb, O.nets[i], have_nl ? &nl : NULL))
			continue;
		if (remus_netbuf_passthrough(&nb))
			LOGF(WARN, "%s: pass-through failed", O.nets[i]);
		remus_netbuf_close(&nb);
	}
	if (have_nl)
		remus_nl_close(&nl);
}

/* The guest's addresses, with its MACs, from its vifs' bridges. */
static void xen_announce(const struct remus_xen_failover *fo)
{
	unsigned int i, j;
	int sent = 0;

	for (i = 0; i < O.nr_announce; i++) {
		uint8_t a[16];
		int family = inet_pton(AF_INET, O.announce[i], a) == 1 ?
			     AF_INET : AF_INET6;

		inet_pton(family, O.announce[i], a);
		for (j = 0; j < fo->nr_nics; j++) {
			unsigned int idx = if_nametoindex(fo->nics[j].bridge);
			int err;

			if (!idx) {
				LOGF(WARN, "announce %s: no bridge \"%s\" for vif %u",
				     O.announce[i], fo->nics[j].bridge, j);
				continue;
			}
			err = remus_announce_mac(idx, fo->nics[j].mac, family, a);
			if (err)
				LOGF(WARN, "announce %s on %s: %s", O.announce[i],
				     fo->nics[j].bridge, strerror(-err));
			else
				sent++;
		}
	}
	if (sent)
		LOGF(INFO, "%d announcement(s) sent", sent);
}

/*
 * libxl builds the domain from the last checkpoint once its stream ends:
 * wait for it, announce the guest's addresses, and stay, so that status
 * tells what happened (and the domain gets its name once it is free).
 */
static int xen_failed_over(struct remus_backup_sink *sink)
{
	struct remus_xen_failover fo;
	uint64_t t0 = remus_now_ns();
	int err, i;

	pthread_mutex_lock(&D.lock);
	D.state = "failing over: the receiver restores the domain";
	pthread_mutex_unlock(&D.lock);
	err = remus_xen_sink_wait(sink, 300000, &fo);
	if (fo.receiver_status >= 0 && (!WIFEXITED(fo.receiver_status) ||
					 WEXITSTATUS(fo.receiver_status)))
		LOGF(WARN, "the receiver ended with status 0x%x",
		     fo.receiver_status);
	if (err || !fo.domid) {
		LOGF(ERR, "failover: no domain %s here after the receiver: %s",
		     fo.name, strerror(err ? -err : ESRCH));
		return 1;
	}
	pthread_mutex_lock(&D.lock);
	D.failed_over = true;
	D.state = "failed over: the domain runs here";
	pthread_mutex_unlock(&D.lock);
	LOGF(NOTICE, "failed over at checkpoint %" PRIu64 ": domain %s%s (id %u) runs here, %.1f s after the stream ended",
	     D.failover_epoch, fo.name, fo.renamed ? "" : "--incoming",
	     fo.domid, (double)(remus_now_ns() - t0) / 1e9);
	if (!fo.renamed)
		LOGF(WARN, "another domain is named %s (the old primary, on this host?): renaming once it is gone",
		     fo.name);
	/* Neighbours may miss one: three, a second apart. */
	for (i = 0; i < 3 && !D.stop; i++) {
		if (i)
			sleep(1);
		xen_announce(&fo);
	}
	while (!D.stop) {
		if (!fo.renamed && !remus_xen_sink_rename(sink, &fo))
			LOGF(NOTICE, "domain %u renamed %s", fo.domid, fo.name);
		sleep(1);
	}
	return 0;
}

static int run_backup(void)
{
	struct remus_proc_sink_cfg scfg = {
		.argv = (const char *const *)O.prog,
		.image = O.image ? O.image : "/run/remus/guest.img",
		.announce = true,
	};
	struct remus_backup_info bi = {
		.listen = O.listen,
		.heartbeat_ms = O.heartbeat_ms,
		.timeout_ms = O.timeout_ms,
		.once = O.once,
		.on_commit = on_commit,
		.disks = O.disks,
		.nr_disks = O.nr_disks,
	};
	struct remus_backup_sink sink;
	struct remus_info dummy;
	static uint8_t key[REMUS_WIRE_KEY_LEN];
	struct remus_guest_desc desc;
	bool xen = !strcmp(O.guest, "xen");
	int err, res, status;
	pid_t pid;

	remus_info_init(&dummy);
	err = load_key(&dummy, key);
	if (err)
		return 1;
	bi.auth = dummy.auth;
	bi.key = dummy.key;
	if (xen) {
		struct remus_xen_sink_cfg xcfg = { .receiver = O.receiver };

		err = remus_xen_sink_open(&sink, &xcfg);
	} else {
		err = remus_proc_sink_open(&sink, &scfg);
	}
	if (err) {
		LOGF(ERR, "sink: %s", strerror(-err));
		return 1;
	}
	res = remus_backup_run(&ctx, &bi, &sink, backup_started, NULL);
	if (O.progress)
		fputs("\r\033[K", stderr);
	if (xen) {
		int ret = res == REMUS_BACKUP_STOPPED ? 0 : 1;

		if (res == REMUS_BACKUP_FAILED_OVER)
			ret = xen_failed_over(&sink);
		remus_xen_sink_close(&sink);
		return ret;
	}
	if (res != REMUS_BACKUP_FAILED_OVER) {
		remus_proc_sink_close(&sink);
		return res == REMUS_BACKUP_STOPPED ? 0 : 1;
	}
	pid = remus_proc_sink_pid(&sink, &desc);
	remus_proc_sink_close(&sink);
	nets_passthrough();
	pthread_mutex_lock(&D.lock);
	D.failed_over = true;
	D.guest_pid = pid;
	D.state = "failed over: the guest runs here";
	pthread_mutex_unlock(&D.lock);
	LOGF(NOTICE, "failed over at checkpoint %" PRIu64 ": guest pid %d runs here, generation %" PRIu64,
	     D.failover_epoch, (int)pid, desc.generation);

	if (O.repair_peer) {
		/* The new primary: protect the guest again once a backup
		 * answers at repair-peer. */
		D.role = "primary";
		return run_primary_on(pid, true, &desc, O.repair_peer);
	}
	LOGF(NOTICE, "running unprotected: start a backup and a primary with --guest proc:pid=%d to re-pair",
	     (int)pid);
	while (!D.stop) {
		pid_t w = waitpid(pid, &status, 0);

		if (w == pid) {
			LOGF(NOTICE, "the guest exited (status %d)", status);
			return 0;
		}
		if (w < 0 && errno != EINTR)
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char path[128];
	int ret;

	t_start = remus_now_ns();
	parse_args(argc, argv);
	tty = isatty(STDERR_FILENO);
	D.role = O.role;
	D.name = O.name ? O.name : "remusd";
	if (O.use_syslog)
		openlog("remusd", LOG_PID, LOG_DAEMON);
	signals();

	if (O.socket) {
		snprintf(path, sizeof(path), "%s", O.socket);
	} else if (remus_ctl_path(D.name, path, sizeof(path))) {
		die_usage("--name: bad name \"%s\"", D.name);
	}
	ret = remusd_ctl_start(&D, path);
	if (ret)
		LOGF(WARN, "control socket %s: %s (status will not be available)",
		     path, strerror(-ret));

	ret = !strcmp(O.role, "primary") ? run_primary() : run_backup();

	remusd_ctl_stop(&D);
	if (!ret || D.ctl_running)
		unlink(path);
	return ret;
}
