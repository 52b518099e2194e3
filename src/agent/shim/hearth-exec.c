/*
 * hearth-exec: runs one program with rlimits, in cgroups, as a child subreaper, and reports what
 * it used. Node can neither set rlimits on a child nor read its rusage; this does both.
 *
 *   hearth-exec [--cpu-ms N] [--as-mb N] [--nproc N] [--fsize-bytes N] [--nofile N] [--report-fd N]
 *               [--cgroup DIR]... [--uid N --gid N] [--seccomp FILE] [--no-kill-orphans] [--close-from N]
 *               -- PROG ARGS...
 *   hearth-exec --set-time MS        settimeofday (root only)
 *   hearth-exec --reseed HEXBYTES    add the bytes to the kernel pool and reseed the CRNG
 *   hearth-exec --sync               sync(2)
 *   hearth-exec --relay DEVICE       relay a character device to stdin/stdout (virtio-serial)
 *   hearth-exec --vsock-listen PORT  relay host connections on a vsock port to stdin/stdout
 *   hearth-exec --server             serve many execs over the Node IPC channel ($NODE_CHANNEL_FD)
 *   hearth-exec --pdeathsig [--uid N --gid N] -- PROG   exec PROG, killed when the caller dies
 *
 * The report fd gets `{"pid":N}` when the program has started, then one line when it ended:
 * {"exitCode":N|null,"signal":"SIGKILL"|null,"cpuTimeMs":N,"peakMemoryKb":N,"asLimitHit":bool}
 * Exit status: the program's code, 128+signal when a signal ended it, 125 when the shim failed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/random.h>
#include <linux/seccomp.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CGROUPS 16

static void die(const char *what) {
  fprintf(stderr, "hearth-exec: %s: %s\n", what, strerror(errno));
  exit(125);
}

static long long parse_num(const char *flag, const char *s) {
  char *end;
  errno = 0;
  long long v = s ? strtoll(s, &end, 10) : -1;
  if (!s || errno || *end || v < 0) {
    fprintf(stderr, "hearth-exec: %s needs a non-negative integer\n", flag);
    exit(125);
  }
  return v;
}

static void set_limit(int resource, long long soft, long long hard) {
  struct rlimit rl = {(rlim_t)soft, (rlim_t)hard};
  if (setrlimit(resource, &rl) != 0) die("setrlimit");
}

static int set_time(const char *ms_text) {
  long long ms = parse_num("--set-time", ms_text);
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
  if (settimeofday(&tv, NULL) != 0) die("settimeofday");
  return 0;
}

static int reseed(const char *hex) {
  size_t n = strlen(hex) / 2;
  if (n == 0 || n > 512 || strlen(hex) % 2) {
    fprintf(stderr, "hearth-exec: --reseed needs 2..1024 hex digits\n");
    return 125;
  }
  struct {
    struct rand_pool_info info;
    unsigned char bytes[512];
  } req;
  for (size_t i = 0; i < n; i++) {
    unsigned int b;
    if (sscanf(hex + 2 * i, "%2x", &b) != 1) {
      fprintf(stderr, "hearth-exec: --reseed: not hex\n");
      return 125;
    }
    req.bytes[i] = (unsigned char)b;
  }
  req.info.entropy_count = (int)(n * 8);
  req.info.buf_size = (int)n;
  int fd = open("/dev/urandom", O_RDWR | O_CLOEXEC);
  if (fd < 0) die("open /dev/urandom");
  if (ioctl(fd, RNDADDENTROPY, &req) != 0) {
    /* Without CAP_SYS_ADMIN: mix the bytes in uncredited, which any user may do. */
    if (errno != EPERM || write(fd, req.bytes, n) != (ssize_t)n) die("RNDADDENTROPY");
    close(fd);
    return 0;
  }
  if (ioctl(fd, RNDRESEEDCRNG) != 0 && errno != EINVAL && errno != ENOTTY) die("RNDRESEEDCRNG");
  close(fd);
  return 0;
}

static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    buf += n, len -= (size_t)n;
  }
  return 0;
}

/* Tells the agent (fd 3) that the host side went away, so it drops any half-read frame. */
static void notify_reset(void) {
  if (write(3, "reset\n", 6) < 0) {
  }
}

/*
 * Copies between conn and stdin/stdout. Returns 0 when stdin ended (the agent is gone), 1 when the
 * host side is gone or not connected (EOF, POLLHUP, a refused write), 2 on a read error.
 */
static int pump(int conn, int *seen_data) {
  static char buf[256 * 1024];
  for (;;) {
    struct pollfd p[2] = {{conn, POLLIN, 0}, {0, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (p[1].revents) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return 0;
      if (n > 0 && write_all(conn, buf, (size_t)n) < 0) return 1;
    }
    if (p[0].revents) {
      ssize_t n = (p[0].revents & POLLIN) ? read(conn, buf, sizeof buf) : 0;
      if (n > 0) {
        *seen_data = 1;
        if (write_all(1, buf, (size_t)n) < 0) return 0;
        continue;
      }
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      return n < 0 ? 2 : 1;
    }
  }
}

/*
 * Relays a character device (a virtio-serial port) to stdin/stdout, so the agent gets pipes its
 * event loop can poll instead of blocking reads. While the host side is not connected the port
 * reads 0 / polls POLLHUP; we wait and keep the device open.
 */
static int relay_port(const char *path) {
  int dev = open(path, O_RDWR | O_CLOEXEC);
  if (dev < 0) die(path);
  for (;;) {
    int seen = 0, r = pump(dev, &seen);
    if (r == 0) return 0;
    if (r == 2) die("read from port");
    if (seen) notify_reset();
    struct timespec pause = {0, 20 * 1000000};
    nanosleep(&pause, NULL);
  }
}

/* Listens on a vsock port (Firecracker) and relays one host connection at a time. */
static int relay_vsock(const char *port_text) {
  long long port = parse_num("--vsock-listen", port_text);
  int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket(AF_VSOCK)");
  struct sockaddr_vm addr;
  memset(&addr, 0, sizeof addr);
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = VMADDR_CID_ANY;
  addr.svm_port = (unsigned int)port;
  if (bind(s, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s, 4) != 0) die("bind vsock");
  for (;;) {
    int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      die("accept vsock");
    }
    int seen = 0, r = pump(c, &seen);
    close(c);
    if (r == 0) return 0;
    notify_reset();
  }
}

static int relay(const char *flag, const char *target) {
  if (!target) return fprintf(stderr, "hearth-exec: %s needs a value\n", flag), 125;
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  return strcmp(flag, "--relay") == 0 ? relay_port(target) : relay_vsock(target);
}

/* ---- --seccomp FILE: the sandbox's filter (classic BPF, an array of struct sock_filter, as bwrap's
 * --seccomp reads it) for the program alone, loaded in its process after the uid drop. Used in a
 * microVM, where no bwrap applies it; the shim and the agent stay unfiltered. */
static struct sock_fprog filter_prog;

static void read_filter(const char *path) {
  static struct sock_filter insns[4096];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die(path);
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, (char *)insns + got, sizeof insns - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die(path);
    if (n == 0) break;
    got += (size_t)n;
    if (got == sizeof insns) break;
  }
  close(fd);
  if (got == 0 || got % sizeof insns[0] || got == sizeof insns) {
    fprintf(stderr, "hearth-exec: %s is not a seccomp filter\n", path);
    exit(125);
  }
  filter_prog.len = (unsigned short)(got / sizeof insns[0]);
  filter_prog.filter = insns;
}

static void load_filter(void) {
  if (!filter_prog.len) return;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("PR_SET_NO_NEW_PRIVS");
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter_prog) != 0) die("PR_SET_SECCOMP");
}
/* ---- end of --seccomp ------------------------------------------------------------------------ */

/* ---- --close-from N: no inherited descriptors ------------------------------------------------
 * Whatever started hearth may have left descriptors open without O_CLOEXEC (a pipe at fd 251, say);
 * Node passes them on to every child. The shim closes every fd from N up, except its report fd,
 * before it runs anything, so only the descriptors meant for the sandbox reach it. */
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

static void close_from(int first, int keep) {
  unsigned int lo = (unsigned int)first;
  if (keep >= first) {
    if (keep > first && syscall(SYS_close_range, lo, (unsigned int)keep - 1, 0) != 0)
      for (int fd = first; fd < keep; fd++) close(fd);
    lo = (unsigned int)keep + 1;
  }
  if (syscall(SYS_close_range, lo, ~0U, 0) == 0) return;
  /* Kernels before 5.9: close whatever /proc/self/fd lists. */
  DIR *d = opendir("/proc/self/fd");
  if (!d) {
    for (long fd = lo; fd < sysconf(_SC_OPEN_MAX); fd++) close((int)fd);
    return;
  }
  int dfd = dirfd(d);
  struct dirent *de;
  while ((de = readdir(d)))
    if (de->d_name[0] >= '0' && de->d_name[0] <= '9') {
      int fd = atoi(de->d_name);
      if (fd >= (int)lo && fd != dfd) close(fd);
    }
  closedir(d);
}
/* ---- end of --close-from ---------------------------------------------------------------------- */

/* The program we run; its status is kept by whichever wait reaps it. */
static pid_t main_child = -1;
static int main_status = 0, main_done = 0;

/* Reaps every child that has exited, without blocking. */
static void reap(void) {
  pid_t p;
  int st;
  while ((p = waitpid(-1, &st, WNOHANG)) > 0)
    if (p == main_child) main_status = st, main_done = 1;
}

/* True while we have any child, live or zombie. As a subreaper every descendant that outlives its
 * parent becomes our child, so no children means no descendants and /proc need not be read. */
static int have_children(void) {
  siginfo_t info;
  return waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0 || errno != ECHILD;
}

/* Every live process whose parent chain leads to us gets SIGKILL, until none is left. */
static void kill_descendants(pid_t self, pid_t pgid) {
  reap();
  if (!have_children()) return;
  size_t cap = 1024;
  pid_t *pids = malloc(cap * sizeof(pid_t)), *ppids = malloc(cap * sizeof(pid_t));
  char *mark = NULL;
  if (!pids || !ppids) die("malloc");
  for (int round = 0; round < 5000; round++) {
    if (pgid > 0) kill(-pgid, SIGKILL);
    reap();
    size_t n = 0;
    DIR *proc = opendir("/proc");
    if (!proc) break;
    struct dirent *de;
    while ((de = readdir(proc))) {
      if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
      char path[300], buf[512];
      snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      ssize_t len = read(fd, buf, sizeof buf - 1);
      close(fd);
      if (len <= 0) continue;
      buf[len] = 0;
      char *rp = strrchr(buf, ')');
      char state;
      int ppid;
      if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2 || state == 'Z') continue;
      if (n == cap) {
        cap *= 2;
        pids = realloc(pids, cap * sizeof(pid_t));
        ppids = realloc(ppids, cap * sizeof(pid_t));
        if (!pids || !ppids) die("realloc");
      }
      pids[n] = atoi(de->d_name);
      ppids[n++] = ppid;
    }
    closedir(proc);
    free(mark);
    mark = calloc(n + 1, 1);
    if (!mark) die("calloc");
    int found = 0;
    for (int changed = 1; changed;) {
      changed = 0;
      for (size_t i = 0; i < n; i++) {
        if (mark[i]) continue;
        int is_child = ppids[i] == self;
        for (size_t j = 0; !is_child && j < n; j++) is_child = mark[j] && pids[j] == ppids[i];
        if (is_child) mark[i] = 1, changed = 1, found = 1, kill(pids[i], SIGKILL);
      }
    }
    if (!found) break;
    struct timespec pause = {0, 1000000};
    nanosleep(&pause, NULL);
  }
  free(mark);
  free(pids);
  free(ppids);
}

/* Runs one program as described in the header; argv[0] is ignored. */
static int run(int argc, char **argv) {
  long long cpu_ms = -1, as_mb = -1, nproc = -1, fsize = -1, nofile = -1, uid = -1, gid = -1, close_fd = -1;
  int report_fd = -1, kill_orphans = 1, ncg = 0, i = 1;
  const char *cgroups[MAX_CGROUPS];
  for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--set-time")) return set_time(v);
    if (!strcmp(a, "--reseed")) return v ? reseed(v) : 125;
    if (!strcmp(a, "--sync")) return sync(), 0;
    if (!strcmp(a, "--relay") || !strcmp(a, "--vsock-listen")) return relay(a, v);
    if (!strcmp(a, "--no-kill-orphans")) {
      kill_orphans = 0;
      continue;
    }
    if (!strcmp(a, "--cgroup")) {
      if (!v || ncg == MAX_CGROUPS) return fprintf(stderr, "hearth-exec: bad --cgroup\n"), 125;
      cgroups[ncg++] = v;
    } else if (!strcmp(a, "--cpu-ms")) cpu_ms = parse_num(a, v);
    else if (!strcmp(a, "--as-mb")) as_mb = parse_num(a, v);
    else if (!strcmp(a, "--nproc")) nproc = parse_num(a, v);
    else if (!strcmp(a, "--fsize-bytes")) fsize = parse_num(a, v);
    else if (!strcmp(a, "--nofile")) nofile = parse_num(a, v);
    else if (!strcmp(a, "--report-fd")) report_fd = (int)parse_num(a, v);
    else if (!strcmp(a, "--close-from")) close_fd = parse_num(a, v);
    else if (!strcmp(a, "--uid")) uid = parse_num(a, v);
    else if (!strcmp(a, "--gid")) gid = parse_num(a, v);
    else if (!strcmp(a, "--seccomp") && v) read_filter(v);
    else return fprintf(stderr, "hearth-exec: unknown option %s\n", a), 125;
    i++;
  }
  if (i + 1 >= argc) return fprintf(stderr, "hearth-exec: nothing to run after --\n"), 125;
  char **prog = argv + i + 1;
  if (close_fd >= 3) close_from((int)close_fd, report_fd);

  for (int c = 0; c < ncg; c++) {
    char path[4096], pid_text[32];
    /* cgroup v1: move this (single-threaded) process by writing 0 to `tasks`. Moving a whole thread
       group through cgroup.procs takes the kernel's global threadgroup lock (an RCU grace period,
       1-10 ms); moving the current thread alone skips it. Children forked later are born inside. */
    snprintf(path, sizeof path, "%s/tasks", cgroups[c]);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    int len = snprintf(pid_text, sizeof pid_text, "0\n");
    if (fd < 0) {
      snprintf(path, sizeof path, "%s/cgroup.procs", cgroups[c]);
      fd = open(path, O_WRONLY | O_CLOEXEC);
      len = snprintf(pid_text, sizeof pid_text, "%d\n", (int)getpid());
    }
    if (fd < 0 || write(fd, pid_text, (size_t)len) != len) die(path);
    close(fd);
  }
  if (report_fd > 2) fcntl(report_fd, F_SETFD, FD_CLOEXEC);
  /* gVisor's user-space kernel lacks PR_SET_CHILD_SUBREAPER (EINVAL): go on with the process
     group and the /proc walk, which still find every descendant that did not leave the tree. */
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0 && errno != EINVAL) die("PR_SET_CHILD_SUBREAPER");
  /* If whoever started us dies, take the tree down with us (SIGTERM is handled below). */
  pid_t parent = getppid();

  sigset_t watched, old;
  sigemptyset(&watched);
  sigaddset(&watched, SIGCHLD);
  sigaddset(&watched, SIGTERM);
  sigaddset(&watched, SIGINT);
  sigaddset(&watched, SIGHUP);
  sigprocmask(SIG_BLOCK, &watched, &old);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) raise(SIGTERM);

  /* ---- not dumpable: the program may run as our uid, but may not open /proc/<shim>/fd/N (our
     report pipe) nor trace us. The child's execve makes it dumpable again, as it should be. */
  prctl(PR_SET_DUMPABLE, 0);
  /* ---- */
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    setpgid(0, 0);
    /* The report fd is the shim's alone: gone before the child becomes reachable below. */
    if (report_fd > 2) close(report_fd);
    /* ---- --uid/--gid: only the program drops privileges. The shim keeps its uid, so a program
       can neither signal it nor its siblings' shims, and it can still kill the whole tree. */
    if (gid >= 0 && (setgroups(0, NULL) != 0 || setgid((gid_t)gid) != 0)) die("setgid");
    if (uid >= 0 && setuid((uid_t)uid) != 0) die("setuid");
    /* ---- */
    /* ---- OOM: the program goes before whatever runs it. Its oom_score_adj is raised 500 over the
       shim's (raising needs no privilege), so under a sandbox-wide memory limit the kernel kills a
       program, not the agent or bwrap that must report on it. */
    prctl(PR_SET_DUMPABLE, 1); /* else /proc/self is root's after setuid, or after the line above fork */
    int adj = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
    if (adj >= 0) {
      char cur[16] = {0}, next[16];
      if (read(adj, cur, sizeof cur - 1) > 0) {
        int v = atoi(cur) + 500;
        int len = snprintf(next, sizeof next, "%d", v > 1000 ? 1000 : v);
        if (write(adj, next, (size_t)len) < 0) {
        }
      }
      close(adj);
    }
    /* ---- */
    for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (cpu_ms >= 0) set_limit(RLIMIT_CPU, (cpu_ms + 999) / 1000, (cpu_ms + 999) / 1000 + 1);
    if (as_mb >= 0) set_limit(RLIMIT_AS, as_mb << 20, as_mb << 20);
    if (nproc >= 0) set_limit(RLIMIT_NPROC, nproc, nproc);
    if (fsize >= 0) set_limit(RLIMIT_FSIZE, fsize, fsize);
    if (nofile >= 0) set_limit(RLIMIT_NOFILE, nofile, nofile);
    load_filter();
    execvp(prog[0], prog);
    fprintf(stderr, "hearth-exec: cannot run %s: %s\n", prog[0], strerror(errno));
    _exit(127);
  }
  setpgid(child, child);
  if (report_fd >= 0) dprintf(report_fd, "{\"pid\":%d}\n", (int)child);

  main_child = child;
  pid_t self = getpid();
  while (!main_done) {
    siginfo_t info;
    int sig = sigwaitinfo(&watched, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) kill_descendants(self, child);
    reap();
  }
  if (kill_orphans) kill_descendants(self, child);
  reap();
  int status = main_status;

  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  long long cpu = (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
                  (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
  long peak_kb = ru.ru_maxrss;
  int code = -1, term = 0;
  if (WIFEXITED(status)) code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) term = WTERMSIG(status);
  int failed = term == SIGSEGV || term == SIGABRT || term == SIGBUS || term == SIGTRAP || term == SIGKILL || code > 0;
  int as_hit = as_mb > 0 && failed && peak_kb * 10 >= as_mb * 1024 * 7;
  if (report_fd >= 0) {
    char code_text[16], sig_text[32];
    snprintf(code_text, sizeof code_text, "%d", code);
    const char *abbrev = term ? sigabbrev_np(term) : NULL;
    if (abbrev) snprintf(sig_text, sizeof sig_text, "\"SIG%s\"", abbrev);
    else if (term) snprintf(sig_text, sizeof sig_text, "\"SIG%d\"", term);
    dprintf(report_fd,
            "{\"exitCode\":%s,\"signal\":%s,\"cpuTimeMs\":%lld,\"peakMemoryKb\":%ld,\"asLimitHit\":%s}\n",
            term ? "null" : code_text, term ? sig_text : "null", cpu, peak_kb, as_hit ? "true" : "false");
  }
  return term ? 128 + term : code;
}

/* ---- --pdeathsig: a host process that dies with its owner ------------------------------------
 *   hearth-exec --pdeathsig [--uid N --gid N [--group N]...] -- PROG ARGS...
 * Drops to uid/gid (supplementary groups: only the --group ones), asks the kernel for SIGKILL when
 * the parent (the hearth process) dies, and execs PROG in place: same pid, no process in between.
 * The uid drop comes first because the kernel clears the parent-death signal on a credential
 * change; exec keeps it (PROG must not be set-uid). Used for QEMU, whose `-sandbox
 * elevateprivileges=deny` forbids dropping privileges itself (-runas dies of SIGSYS). */
static int pdeathsig_exec(int argc, char **argv) {
  long long uid = -1, gid = -1;
  gid_t groups[8];
  int ngroups = 0, i = 2;
  for (; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--uid")) uid = parse_num(a, v);
    else if (!strcmp(a, "--gid")) gid = parse_num(a, v);
    else if (!strcmp(a, "--group") && ngroups < 8) groups[ngroups++] = (gid_t)parse_num(a, v);
    else return fprintf(stderr, "hearth-exec: --pdeathsig: unknown option %s\n", a), 125;
  }
  if (i + 1 >= argc) return fprintf(stderr, "hearth-exec: nothing to run after --\n"), 125;
  pid_t parent = getppid();
  if (gid >= 0 && (setgroups((size_t)ngroups, groups) != 0 || setgid((gid_t)gid) != 0)) die("setgid");
  if (uid >= 0 && setuid((uid_t)uid) != 0) die("setuid");
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die("PR_SET_PDEATHSIG");
  /* The owner may have died before the prctl: then nobody would send the signal. */
  if (getppid() != parent) return 125;
  execvp(argv[i + 1], argv + i + 1);
  fprintf(stderr, "hearth-exec: cannot run %s: %s\n", argv[i + 1], strerror(errno));
  return 127;
}
/* ---- end of --pdeathsig ---------------------------------------------------------------------- */

#include "exec-server.inc.c"

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--server")) return serve();
  if (argc > 1 && !strcmp(argv[1], "--pdeathsig")) return pdeathsig_exec(argc, argv);
  return run(argc, argv);
}
