// halfsec-splice: joins two connected sockets, inherited as descriptors 3 and 4, in both
// directions with splice(2) (kernel pipes, no copy through user space) until either side
// ends, then exits, which closes both. The relay hands it an RTMP publisher's connection (3)
// and the connection to that publisher's FFmpeg child (4) once the publish is authorized
// (ts/ingest/rtmp.ts), so the media bytes never pass through the relay's JavaScript.
//
// It must not outlive the relay (killed, crashed): nothing else would end a stalled publisher's
// connection and the FFmpeg child reading from it. The kernel kills it when its parent dies
// (PR_SET_PDEATHSIG); argv[1], the relay's pid, catches a relay that died before that was set.
//
// The descriptors share their open file description (and so O_NONBLOCK) with the copies the
// relay held until it closed them: they stay non-blocking, and one thread polls both.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace {

constexpr int kIn = 3;
constexpr int kOut = 4;
constexpr size_t kChunk = 1 << 16;

// One direction: bytes read from `from` wait in the pipe until `to` takes them.
struct Direction {
  int from;
  int to;
  int pipe_r = -1;
  int pipe_w = -1;
  size_t pending = 0;
};

// false: this direction ended (EOF or an error on either socket).
bool Pump(Direction& d) {
  for (;;) {
    if (d.pending == 0) {
      ssize_t n = splice(d.from, nullptr, d.pipe_w, nullptr, kChunk, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n == 0) return false;
      if (n < 0) return errno == EAGAIN || errno == EINTR;
      d.pending = static_cast<size_t>(n);
    }
    while (d.pending > 0) {
      ssize_t m = splice(d.pipe_r, nullptr, d.to, nullptr, d.pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (m < 0 && errno == EINTR) continue;
      if (m < 0 && errno == EAGAIN) return true;  // `to` is full: wait for POLLOUT
      if (m <= 0) return false;
      d.pending -= static_cast<size_t>(m);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return 1;
  if (argc > 1 && getppid() != static_cast<pid_t>(std::atol(argv[1]))) return 0;  // the relay is already gone
  if (fcntl(kIn, F_GETFD) < 0 || fcntl(kOut, F_GETFD) < 0) {
    std::fprintf(stderr, "halfsec-splice: descriptors 3 and 4 must be the two sockets\n");
    return 2;
  }
  Direction dirs[2] = {{kIn, kOut}, {kOut, kIn}};
  for (auto& d : dirs) {
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return 1;
    d.pipe_r = p[0];
    d.pipe_w = p[1];
    fcntl(d.from, F_SETFL, fcntl(d.from, F_GETFL) | O_NONBLOCK);
  }
  for (;;) {
    pollfd fds[2];
    for (int i = 0; i < 2; i++) {
      // Waiting to write what is in the pipe, or to read more.
      fds[i] = dirs[i].pending > 0 ? pollfd{dirs[i].to, POLLOUT, 0} : pollfd{dirs[i].from, POLLIN, 0};
    }
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    for (int i = 0; i < 2; i++) {
      if (fds[i].revents == 0) continue;
      if (!Pump(dirs[i])) return 0;  // one side ended: exiting closes both
    }
  }
}
