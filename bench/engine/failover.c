// SPDX-License-Identifier: GPL-2.0
/*
 * engbench failover: from the primary's death to the first datagram of the
 * guest restored on the backup, with two remusd processes on loopback and
 * the demo guest sending its counter to us every millisecond.
 *
 *   eof     SIGKILL to the primary's process group (remusd and its guest):
 *           the kernel closes the replication socket, the backup reads EOF
 *   silent  SIGSTOP to the same group: the socket stays open and the
 *           kernel keeps ACKing, nothing more arrives; the backup must
 *           notice the silence (--timeout), as it would a cut cable or a
 *           host that froze
 *
 * The backup's log lines are timestamped as they arrive on its stderr
 * (remusd writes them unbuffered), which splits the total into detection
 * (kill to "primary lost"), restore (to "failed over": image written, guest
 * started and handshaken) and the guest's first datagram.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engbench.h"

struct proc_out {
	pid_t pid;
	int fd;			/* its stderr */
	char buf[8192];
	size_t len;
};

static pid_t spawn(char *const argv[], int *errfd)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		int null = open("/dev/null", O_RDWR);

		setpgid(0, 0);
		dup2(null, 0);
		dup2(null, 1);
		dup2(p[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	setpgid(pid, pid);
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	*errfd = p[0];
	return pid;
}

/* Reads what is there; calls back per whole line with the arrival time. */
static int drain(struct proc_out *o, void (*line)(void *, const char *, uint64_t),
		 void *data)
{
	ssize_t n;
	char *nl;

	for (;;) {
		n = read(o->fd, o->buf + o->len, sizeof(o->buf) - 1 - o->len);
		if (n <= 0)
			return n == 0 ? -EPIPE : 0;
		o->len += (size_t)n;
		o->buf[o->len] = '\0';
		while ((nl = strchr(o->buf, '\n'))) {
			*nl = '\0';
			line(data, o->buf, now_ns());
			o->len -= (size_t)(nl + 1 - o->buf);
			memmove(o->buf, nl + 1, o->len + 1);
		}
		if (o->len == sizeof(o->buf) - 1)
			o->len = 0;
	}
}

struct trial {
	uint64_t t_listen, t_session, t_lost, t_failing, t_done, t_commit;
	bool verbose;
};

static void on_line(void *data, const char *l, uint64_t t)
{
	struct trial *tr = data;

	if (tr->verbose)
		fprintf(stderr, "  backup: %s\n", l);
	if (strstr(l, "backup listening"))
		tr->t_listen = t;
	else if (strstr(l, "session with the primary up"))
		tr->t_session = t;
	else if (strstr(l, "primary lost"))
		tr->t_lost = t;
	else if (strstr(l, "failing over to"))
		tr->t_failing = t;
	else if (strstr(l, "failed over at"))
		tr->t_done = t;
}

static void on_pline(void *data, const char *l, uint64_t t)
{
	struct trial *tr = data;

	if (tr->verbose)
		fprintf(stderr, "  primary: %s\n", l);
}

struct result {
	double total, detect, restore, first;
	uint64_t last_seq, restored_seq;
};

static const char *gsize = "64M";

static int trial(const char *remusd, const char *guest, const char *dir,
		 bool silent, unsigned int hb, unsigned int to, bool verbose,
		 struct result *res)
{
	char key[256], img[256], bsock[256], psock[256], listen[64], peer[64];
	char client[64], hbs[16], tos[16];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct proc_out b = { 0 }, p = { 0 };
	struct trial tr = { .verbose = verbose };
	uint64_t t0, t_first = 0, deadline, seen = 0, last_seq = 0;
	int udp, port, ret = -ETIMEDOUT;

	snprintf(key, sizeof(key), "%s/key", dir);
	snprintf(img, sizeof(img), "%s/guest.img", dir);
	snprintf(bsock, sizeof(bsock), "%s/b.sock", dir);
	snprintf(psock, sizeof(psock), "%s/p.sock", dir);
	snprintf(hbs, sizeof(hbs), "%u", hb);
	snprintf(tos, sizeof(tos), "%u", to);
	udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (udp < 0 || bind(udp, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(udp, (struct sockaddr *)&sa, &sl))
		die("udp socket: %s", strerror(errno));
	snprintf(client, sizeof(client), "127.0.0.1:%d", ntohs(sa.sin_port));
	port = 30000 + (int)(now_ns() / 1000 % 30000);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(peer, sizeof(peer), "127.0.0.1:%d", port);
	{
		char *argv[] = { (char *)remusd, "backup", "--listen", listen,
				 "--key", key, "--heartbeat", hbs, "--timeout", tos,
				 "--image", img, "--socket", bsock, "--no-progress",
				 "--", (char *)guest, "-q", "-s", (char *)gsize, "-c",
				 client, NULL };

		b.pid = spawn(argv, &b.fd);
	}
	deadline = now_ns() + 10000000000ULL;
	while (!tr.t_listen && now_ns() < deadline) {
		struct pollfd pf = { .fd = b.fd, .events = POLLIN };

		poll(&pf, 1, 100);
		if (drain(&b, on_line, &tr))
			break;
	}
	if (!tr.t_listen) {
		fprintf(stderr, "engbench: failover: the backup did not listen on %s\n",
			listen);
		goto out;
	}
	{
		char *argv[] = { (char *)remusd, "primary", "--peer", peer,
				 "--key", key, "--heartbeat", hbs, "--timeout", tos,
				 "--socket", psock, "--no-progress",
				 "--", (char *)guest, "-q", "-s", (char *)gsize, "-c",
				 client, NULL };

		p.pid = spawn(argv, &p.fd);
	}
	/* 1.5 s of checkpoints and datagrams before the kill */
	deadline = now_ns() + 1500000000ULL;
	while (now_ns() < deadline || !tr.t_session || seen < 100) {
		struct pollfd pf[3] = {
			{ .fd = b.fd, .events = POLLIN },
			{ .fd = p.fd, .events = POLLIN },
			{ .fd = udp, .events = POLLIN },
		};
		char d[128];

		if (now_ns() > deadline + 10000000000ULL) {
			fprintf(stderr, "engbench: failover: no session or no datagrams\n");
			goto out;
		}
		poll(pf, 3, 50);
		drain(&b, on_line, &tr);
		drain(&p, on_pline, &tr);
		while (recv(udp, d, sizeof(d) - 1, MSG_DONTWAIT) > 0) {
			unsigned long long s, gen;

			seen++;
			if (sscanf(d, "seq %llu gen %llu", &s, &gen) == 2)
				last_seq = s;
		}
		if (tr.t_lost) {
			/* a healthy primary declared lost: not a trial */
			ret = -EAGAIN;
			goto out;
		}
	}

	t0 = now_ns();
	kill(-p.pid, silent ? SIGSTOP : SIGKILL);
	deadline = t0 + 10000000000ULL;
	while (!t_first && now_ns() < deadline) {
		struct pollfd pf[2] = {
			{ .fd = b.fd, .events = POLLIN },
			{ .fd = udp, .events = POLLIN },
		};
		char d[128];
		ssize_t n;

		poll(pf, 2, 100);
		while ((n = recv(udp, d, sizeof(d) - 1, MSG_DONTWAIT)) > 0) {
			unsigned long long s, gen;
			uint64_t t = now_ns();

			d[n] = '\0';
			if ((sscanf(d, "seq %llu gen %llu", &s, &gen) == 2 ||
			     sscanf(d, "restored %llu gen %llu", &s, &gen) == 2) &&
			    gen >= 1) {
				t_first = t;
				res->restored_seq = s;
				break;
			}
			if (sscanf(d, "seq %llu gen %llu", &s, &gen) == 2)
				last_seq = s;
		}
		drain(&b, on_line, &tr);
	}
	if (!t_first) {
		fprintf(stderr, "engbench: failover: no datagram from the backup's guest\n");
		goto out;
	}
	/* its "failed over" line may come after the guest's first datagram */
	deadline = now_ns() + 1000000000ULL;
	while (!tr.t_done && now_ns() < deadline) {
		struct pollfd pf = { .fd = b.fd, .events = POLLIN };

		poll(&pf, 1, 50);
		drain(&b, on_line, &tr);
	}
	res->total = (double)(t_first - t0) / 1e6;
	res->detect = tr.t_lost ? (double)(tr.t_lost - t0) / 1e6 : -1;
	/* failing over .. first datagram: image written, guest started */
	res->restore = tr.t_failing ? (double)(t_first - tr.t_failing) / 1e6 : -1;
	res->first = tr.t_done ? ((double)t_first - (double)tr.t_done) / 1e6 : 0;
	res->last_seq = last_seq;
	ret = 0;
out:
	if (p.pid > 0) {
		kill(-p.pid, SIGKILL);
		waitpid(p.pid, NULL, 0);
		close(p.fd);
	}
	if (b.pid > 0) {
		kill(-b.pid, SIGKILL);
		waitpid(b.pid, NULL, 0);
		close(b.fd);
	}
	close(udp);
	unlink(img);
	unlink(bsock);
	unlink(psock);
	return ret;
}

int bench_failover(int argc, char **argv)
{
	const char *remusd = "build/remusd", *guest = "build/demo-guest";
	const char *modes = "eof,silent", *data = NULL;
	unsigned int hb = 100, to = 300;
	int reps = 10, c, fd, i;
	char dir[] = "/dev/shm/engbench-fo-XXXXXX", path[64], hex[65];
	char buf[64], *tok, *save;
	bool verbose = false;

	while ((c = getopt(argc, argv, "d:g:m:r:H:T:o:vs:")) != -1) {
		switch (c) {
		case 'd': remusd = optarg; break;
		case 'g': guest = optarg; break;
		case 'm': modes = optarg; break;
		case 'r': reps = atoi(optarg); break;
		case 'H': hb = (unsigned int)atoi(optarg); break;
		case 'T': to = (unsigned int)atoi(optarg); break;
		case 'o': data = optarg; break;
		case 'v': verbose = true; break;
		case 's': gsize = optarg; break;
		default:
			fprintf(stderr, "usage: engbench failover [-d REMUSD] [-g DEMO_GUEST] [-m eof,silent] [-r REPS] [-H HEARTBEAT_MS] [-T TIMEOUT_MS] [-s GUEST_SIZE] [-o DATA] [-v]\n");
			return 2;
		}
	}
	if (reps < 1 || reps > 100)
		die("-r: 1..100");
	if (!mkdtemp(dir))
		die("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/key", dir);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", bench_key[i]);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, hex, 64) != 64 || close(fd))
		die("%s: %s", path, strerror(errno));

	snprintf(buf, sizeof(buf), "%s", modes);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		double tot[100], det[100], rst[100], fst[100];
		int k = 0, fails = 0, alarms = 0;
		bool silent = !strcmp(tok, "silent");

		for (i = 0; k < reps && i < 3 * reps + 3; i++) {
			struct result r = { 0 };
			int ret = trial(remusd, guest, dir, silent, hb, to, verbose, &r);

			if (ret == -EAGAIN) {
				alarms++;
				continue;
			}
			if (ret) {
				fails++;
				continue;
			}
			tot[k] = r.total;
			det[k] = r.detect;
			rst[k] = r.restore;
			fst[k] = r.first;
			if (data) {
				FILE *df = fopen(data, "a");

				if (df) {
					fprintf(df, "%s\t%s\t%u\t%u\t%.1f\t%.1f\t%.1f\t%.1f\n",
						tok, gsize, hb, to, r.total, r.detect,
						r.restore, r.first);
					fclose(df);
				}
			}
			k++;
		}
		if (!k) {
			printf("| %s | %s | %u / %u ms | 0 | %d | %d | no armed session to fail over from | | | | | **missed** |\n",
			       silent ? "silent (SIGSTOP)" : "EOF (SIGKILL)", gsize,
			       hb, to, alarms, fails);
			continue;
		}
		{
			double tm = MED(tot, k), t99 = q_of(tot, k, 1.0);
			double dm = MED(det, k), rm = MED(rst, k), fm = MED(fst, k);

			printf("| %s | %s | %u / %u ms | %d | %d | %d | **%.0f ms** | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %s |\n",
			       silent ? "silent (SIGSTOP)" : "EOF (SIGKILL)", gsize, hb, to,
			       k, alarms, fails, tm, t99, dm, rm, fm,
			       tm <= 500 && t99 <= 500 ? "met" : "**missed**");
		}
	}
	unlink(path);
	rmdir(dir);
	return 0;
}
