/*
 * hearth-exec --server: one long-lived process that forks a per-exec shim (run() in hearth-exec.c)
 * for each request, so the guest agent need not fork Node for every exec.
 *
 * It speaks Node's child_process IPC protocol on $NODE_CHANNEL_FD: newline-terminated JSON, and a
 * socket passed with SCM_RIGHTS rides on a {"cmd":"NODE_HANDLE","type":"net.Socket","msg":...}
 * line, which Node turns into a net.Socket given to the 'message' event.
 *
 * Request (from child.send):  {"hearthExec":"<hex of NUL-terminated fields>"} with the fields
 *   seq, stdin ("1" pipe, "0" /dev/null), cwd, N, N shim arguments (options, --, argv), env...
 * Replies, in order: one NODE_HANDLE line per socket ({"seq":S,"fd":0|1|2|3}; fd 0 only when stdin
 * is a pipe, fd 3 is the report), then {"seq":S,"pid":P} (the per-exec shim, which the agent may
 * signal) or {"seq":S,"error":"..."}; when the shim has been reaped,
 * {"seq":S,"exitCode":N|null,"signal":"SIGxx"|null}.
 * The server exits when the channel closes, and (PDEATHSIG) when the agent dies; each per-exec
 * shim then gets SIGTERM and kills its tree, as it does when the agent spawned it directly.
 */
extern char **environ;

static volatile sig_atomic_t child_exited = 0;
static void on_sigchld(int sig) {
  (void)sig;
  child_exited = 1;
}

struct served {
  pid_t pid;
  long long seq;
};
static struct served *served_jobs;
static size_t served_count, served_cap;
static int ipc_fd = -1;

/* Writes one line to the agent, with `fd` attached when it is >= 0. */
static int send_line(const char *text, int fd) {
  size_t len = strlen(text);
  struct iovec iov = {(void *)text, len};
  struct msghdr m;
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  memset(&m, 0, sizeof m);
  memset(&ctl, 0, sizeof ctl);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  if (fd >= 0) {
    m.msg_control = ctl.buf;
    m.msg_controllen = sizeof ctl.buf;
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &fd, sizeof(int));
  }
  ssize_t n;
  do n = sendmsg(ipc_fd, &m, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  return (size_t)n < len ? write_all(ipc_fd, text + n, len - (size_t)n) : 0;
}

static void send_error(long long seq, const char *what) {
  char line[512];
  snprintf(line, sizeof line, "{\"seq\":%lld,\"error\":\"%s: %s\"}\n", seq, what, strerror(errno));
  send_line(line, -1);
}

/* In the forked child: stdio and report fd in place, then become the per-exec shim. */
static void become_shim(int ends[4][2], const char *cwd, char **args, char **env) {
  signal(SIGCHLD, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  close(ipc_fd);
  for (int k = 0; k < 4; k++)
    if (dup2(ends[k][0], k) < 0) _exit(125);
  for (int k = 0; k < 4; k++) {
    close(ends[k][0]);
    if (ends[k][1] >= 0) close(ends[k][1]);
  }
  if (chdir(cwd) != 0) {
    fprintf(stderr, "hearth-exec: cannot enter %s: %s\n", cwd, strerror(errno));
    _exit(125);
  }
  environ = env;
  int argc = 0;
  while (args[argc]) argc++;
  _exit(run(argc, args));
}

/* fields (NULL-terminated array): seq, stdin, cwd, N, N arguments, then the environment. */
static void start_exec(char **fields, size_t count) {
  long long seq = count > 0 ? atoll(fields[0]) : -1;
  long long nargs = count > 3 ? atoll(fields[3]) : -1;
  if (count < 4 || nargs < 1 || (size_t)nargs + 4 > count) {
    errno = EINVAL;
    return send_error(seq, "bad request");
  }
  char **args = calloc((size_t)nargs + 2, sizeof *args);
  if (!args) return send_error(seq, "calloc");
  args[0] = "hearth-exec";
  for (long long i = 0; i < nargs; i++) args[i + 1] = fields[4 + i];
  int ends[4][2] = {{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}};
  int ok = 1;
  for (int k = 0; k < 4 && ok; k++) {
    if (k == 0 && fields[1][0] != '1') ok = (ends[0][0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;
    else ok = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends[k]) == 0;
  }
  if (ok && served_count == served_cap) {
    size_t cap = served_cap ? served_cap * 2 : 16;
    struct served *grown = realloc(served_jobs, cap * sizeof *grown);
    if (grown) served_jobs = grown, served_cap = cap;
    else ok = 0;
  }
  pid_t pid = ok ? fork() : -1;
  if (pid == 0) become_shim(ends, fields[2], args, fields + 4 + nargs);
  free(args);
  if (pid < 0) send_error(seq, ok ? "fork" : "socketpair");
  for (int k = 0; k < 4; k++)
    if (ends[k][0] >= 0) close(ends[k][0]);
  for (int k = 0; k < 4; k++) {
    if (ends[k][1] < 0) continue;
    if (pid > 0) {
      char line[160];
      snprintf(line, sizeof line,
               "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":{\"seq\":%lld,\"fd\":%d}}\n", seq, k);
      send_line(line, ends[k][1]);
    }
    close(ends[k][1]);
  }
  if (pid < 0) return;
  served_jobs[served_count].pid = pid;
  served_jobs[served_count++].seq = seq;
  char line[96];
  snprintf(line, sizeof line, "{\"seq\":%lld,\"pid\":%d}\n", seq, (int)pid);
  send_line(line, -1);
}

/* Reports every per-exec shim that has exited. */
static void reap_served(void) {
  pid_t p;
  int st;
  while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
    for (size_t i = 0; i < served_count; i++) {
      if (served_jobs[i].pid != p) continue;
      char line[160], code[16] = "null", sig[32] = "null";
      if (WIFEXITED(st)) snprintf(code, sizeof code, "%d", WEXITSTATUS(st));
      else if (WIFSIGNALED(st)) {
        const char *abbrev = sigabbrev_np(WTERMSIG(st));
        if (abbrev) snprintf(sig, sizeof sig, "\"SIG%s\"", abbrev);
        else snprintf(sig, sizeof sig, "\"SIG%d\"", WTERMSIG(st));
      }
      snprintf(line, sizeof line, "{\"seq\":%lld,\"exitCode\":%s,\"signal\":%s}\n", served_jobs[i].seq, code, sig);
      send_line(line, -1);
      served_jobs[i] = served_jobs[--served_count];
      break;
    }
  }
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* One line from the agent: a request, or one of Node's own messages (ignored). */
static void handle_line(char *line) {
  static const char key[] = "{\"hearthExec\":\"";
  if (strncmp(line, key, sizeof key - 1) != 0) return;
  char *hex = line + sizeof key - 1, *end = strchr(hex, '"');
  if (!end || (end - hex) % 2) return send_error(-1, "bad request");
  size_t len = (size_t)(end - hex) / 2, count = 0;
  char *bytes = malloc(len + 1);
  char **fields = malloc((len + 2) * sizeof *fields);
  if (!bytes || !fields) die("malloc");
  for (size_t i = 0; i < len; i++) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      free(bytes), free(fields);
      return send_error(-1, "bad request");
    }
    bytes[i] = (char)(hi << 4 | lo);
  }
  bytes[len] = 0;
  for (size_t i = 0, startf = 0; i < len; i++)
    if (bytes[i] == 0) fields[count++] = bytes + startf, startf = i + 1;
  fields[count] = NULL;
  start_exec(fields, count);
  free(bytes);
  free(fields);
}

static int serve(void) {
  const char *channel = getenv("NODE_CHANNEL_FD");
  if (!channel) return fprintf(stderr, "hearth-exec: --server needs NODE_CHANNEL_FD\n"), 125;
  int fd = (int)parse_num("NODE_CHANNEL_FD", channel);
  /* Keep fds 0-3 taken, so every socket made later is above the slots a shim dup2()s into. */
  ipc_fd = fcntl(fd, F_DUPFD_CLOEXEC, 10);
  if (ipc_fd < 0) die("dup channel");
  int null_fd = open("/dev/null", O_RDWR);
  for (int k = 0; k < 4; k++)
    if (k == fd || fcntl(k, F_GETFD) < 0) dup2(null_fd, k);
  if (null_fd > 3) close(null_fd);
  fcntl(ipc_fd, F_SETFL, fcntl(ipc_fd, F_GETFL) & ~O_NONBLOCK);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  /* Orphans of a shim that died come here, not to the agent (which, as a sandbox's pid 1, would
     leave them zombies): reap_served() reaps every child. gVisor lacks it; nothing depends on it. */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigchld;
  sigaction(SIGCHLD, &sa, NULL);
  sigset_t chld, unblocked;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &unblocked);
  sigdelset(&unblocked, SIGCHLD);
  size_t cap = 64 * 1024, used = 0;
  char *buf = malloc(cap);
  if (!buf) die("malloc");
  for (;;) {
    if (child_exited) child_exited = 0, reap_served();
    struct pollfd p = {ipc_fd, POLLIN, 0};
    if (ppoll(&p, 1, NULL, &unblocked) < 0) {
      if (errno == EINTR) continue;
      die("ppoll");
    }
    if (used == cap) {
      cap *= 2;
      if (!(buf = realloc(buf, cap))) die("realloc");
    }
    ssize_t n = read(ipc_fd, buf + used, cap - used);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return 0;
    used += (size_t)n;
    char *line = buf, *nl;
    while ((nl = memchr(line, '\n', used - (size_t)(line - buf)))) {
      *nl = 0;
      handle_line(line);
      line = nl + 1;
    }
    used -= (size_t)(line - buf);
    memmove(buf, line, used);
  }
}
