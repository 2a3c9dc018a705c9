// halfsec-srt: the relay's SRT listener (libsrt), a child process of the relay. One UDP port
// takes every SRT publisher; the caller's stream id (streamid=publish:<stream>[:<token>]) is
// read in libsrt's listen callback, where malformed ids, missing tokens and floods are refused
// with an SRT reject reason in the handshake. A well-formed caller is accepted but not read:
// the relay checks its token (TS, access layer) and either says `accept` (this process then
// copies the caller's MPEG-TS into a FIFO its FFmpeg ingest child reads) or `reject` (closed
// before any byte of its media was read). Media never passes through the relay's JavaScript.
//
// Control protocol, one line each way (the relay writes stdin, reads stdout):
//   stdin, before start: listen <host> <port> <stream|*> [<passphrase>]   then   start
//   stdin, after:        accept <id> | reject <id> | close <id>
//   stdout: listening <index> <port> | ready | error <why>
//           refused <index> <ip:port> <reject code> <why>      (in the handshake; at most
//             kRefusedLinesPerSecond a second, the rest summed up once a second in
//           refused-more <count>)
//           caller <id> <index> <ip:port> <stream> <token|-> <fifo path>
//           flowing <id> | ended <id> <bytes> <why>
// stdin at EOF (the relay is gone): every connection is closed and the process exits.
// Passphrases come on stdin, never on the command line (/proc/<pid>/cmdline is world-readable).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <srt/access_control.h>
#include <srt/srt.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "srt/caller_admission.h"
#include "srt/line_budget.h"
#include "srt/streamid.h"

namespace {

using halfsec::srt::CallerAdmission;
using halfsec::srt::LineBudget;
using halfsec::srt::ParseStreamId;
using halfsec::srt::StreamIdError;

struct Options {
  std::string dir;
  int latency_ms = 120;
  int peer_idle_ms = 5000;
  int max_pending = 16;
  int max_pending_per_address = 4;
  int auth_timeout_ms = 5000;
  bool token_required = false;
};

struct Listener {
  int index = 0;
  std::string host;
  int port = 0;
  std::string stream;  // empty: the shared port (stream from the stream id)
  std::string passphrase;
  SRTSOCKET sock = SRT_INVALID_SOCK;
};

enum class Decision { kNone, kAccept, kReject };

struct Conn {
  uint64_t id = 0;
  SRTSOCKET sock = SRT_INVALID_SOCK;
  std::string address;  // the caller's IP, for the per-address pending limit
  std::string fifo;
  std::mutex mu;
  std::condition_variable cv;
  Decision decision = Decision::kNone;
  std::atomic<bool> stop{false};
};

Options g_opt;
std::mutex g_out_mu;
std::mutex g_mu;  // guards g_conns and g_next_id
std::map<uint64_t, std::shared_ptr<Conn>> g_conns;
uint64_t g_next_id = 1;
// Callers waiting for the relay's decision (caller_admission.h); made in main from the options.
std::unique_ptr<CallerAdmission> g_admission;

// `refused` lines past this many a second are only counted, and told once a second
// (`refused-more`): see line_budget.h.
constexpr int kRefusedLinesPerSecond = 10;
LineBudget g_refused_lines(kRefusedLinesPerSecond);

void Say(const std::string& line) {
  std::lock_guard<std::mutex> lock(g_out_mu);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::string AddressOf(const sockaddr* sa, bool with_port) {
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa && sa->sa_family == AF_INET) {
    auto* v4 = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof ip);
    port = ntohs(v4->sin_port);
  } else if (sa && sa->sa_family == AF_INET6) {
    auto* v6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof ip);
    port = ntohs(v6->sin6_port);
  }
  return with_port ? std::string(ip) + ":" + std::to_string(port) : std::string(ip);
}

// A `refused` line, unless this second's lines are spent (then only counted).
void SayRefused(const std::string& line) {
  if (g_refused_lines.Take(std::chrono::steady_clock::now())) Say(line);
}

// Once a second: the count of refusals past the line budget, and reservations whose caller
// never reached srt_accept.
void Housekeeping() {
  for (;;) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    g_admission->ReleaseExpired(std::chrono::steady_clock::now());
    const uint64_t n = g_refused_lines.TakeSkipped();
    if (n > 0) Say("refused-more " + std::to_string(n));
  }
}

// In libsrt's receive thread, during the caller's conclusion handshake: only checks that need
// no waiting (the token itself is checked by the relay after the accept).
int OnListen(void* opaque, SRTSOCKET ns, int hsversion, const sockaddr* peer, const char* streamid) {
  const Listener& l = *static_cast<const Listener*>(opaque);
  auto refuse = [&](int code, const char* why) {
    srt_setrejectreason(ns, code);
    SayRefused("refused " + std::to_string(l.index) + " " + AddressOf(peer, true) + " " + std::to_string(code) + " " + why);
    return -1;
  };
  if (l.stream.empty()) {  // the shared port: the stream id names the stream
    if (hsversion < 5) return refuse(SRT_REJX_BAD_REQUEST, "HSv4 caller: no streamid");
    auto id = ParseStreamId(streamid ? std::string_view(streamid) : std::string_view());
    if (id.error == StreamIdError::kMode) return refuse(SRT_REJX_BAD_MODE, Describe(id.error));
    if (id.error != StreamIdError::kNone) return refuse(SRT_REJX_BAD_REQUEST, Describe(id.error));
    if (g_opt.token_required && id.token.empty()) return refuse(SRT_REJX_UNAUTHORIZED, "a publish token is required: streamid=publish:<stream>:<token>");
  }
  switch (g_admission->Reserve(ns, AddressOf(peer, false), std::chrono::steady_clock::now())) {
    case CallerAdmission::Verdict::kAdmitted: return 0;
    case CallerAdmission::Verdict::kTooMany: return refuse(SRT_REJX_OVERLOAD, "too many callers waiting for authorization");
    case CallerAdmission::Verdict::kTooManyFromAddress: return refuse(SRT_REJX_OVERLOAD, "too many callers from this address waiting for authorization");
  }
  return -1;
}

void Finish(const std::shared_ptr<Conn>& c, int fd, uint64_t bytes, const std::string& why) {
  if (fd >= 0) close(fd);
  unlink(c->fifo.c_str());
  srt_close(c->sock);
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_conns.erase(c->id);
  }
  Say("ended " + std::to_string(c->id) + " " + std::to_string(bytes) + " " + why);
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// One thread per accepted caller: wait for the relay's decision, then copy media to the FIFO.
void Serve(std::shared_ptr<Conn> c) {
  Decision d;
  {
    std::unique_lock<std::mutex> lock(c->mu);
    c->cv.wait_for(lock, std::chrono::milliseconds(g_opt.auth_timeout_ms), [&] { return c->decision != Decision::kNone || c->stop; });
    d = c->decision;
  }
  g_admission->Release(c->address);
  if (d != Decision::kAccept || c->stop) return Finish(c, -1, 0, d == Decision::kReject ? "refused by the relay" : "no decision in time");
  // The ingest child opens the FIFO for reading; until it does, opening for writing says ENXIO.
  int fd = -1;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10); !c->stop && std::chrono::steady_clock::now() < deadline;) {
    fd = open(c->fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0 || errno != ENXIO) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (fd < 0) return Finish(c, -1, 0, "the ingest child did not open its input");
  unlink(c->fifo.c_str());  // both ends are open: the name is no longer needed
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  Say("flowing " + std::to_string(c->id));
  int timeout_ms = 500;  // wake up to see `close` even from a silent caller
  srt_setsockflag(c->sock, SRTO_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
  char buf[2048];  // a live-mode message is at most 1456 bytes
  uint64_t bytes = 0;
  std::string why = "closed by the relay";
  while (!c->stop) {
    int n = srt_recvmsg(c->sock, buf, sizeof buf);
    if (n == SRT_ERROR) {
      if (srt_getlasterror(nullptr) == SRT_EASYNCRCV) continue;
      why = std::string("caller gone: ") + srt_getlasterror_str();
      break;
    }
    if (n == 0) continue;
    if (!WriteAll(fd, buf, static_cast<size_t>(n))) {
      why = "the ingest child stopped reading";
      break;
    }
    bytes += static_cast<uint64_t>(n);
  }
  Finish(c, fd, bytes, why);
}

void AcceptLoop(Listener* l) {
  for (;;) {
    sockaddr_storage peer{};
    int len = sizeof peer;
    SRTSOCKET s = srt_accept(l->sock, reinterpret_cast<sockaddr*>(&peer), &len);
    if (s == SRT_INVALID_SOCK) {
      if (srt_getsockstate(l->sock) != SRTS_LISTENING) return;
      continue;
    }
    char sid[600] = {0};
    int sid_len = sizeof sid - 1;
    if (srt_getsockflag(s, SRTO_STREAMID, sid, &sid_len) != 0) sid_len = 0;
    sid[sid_len > 0 ? sid_len : 0] = '\0';
    std::string stream = l->stream, token;
    if (stream.empty()) {
      auto id = ParseStreamId(sid);
      if (id.error != StreamIdError::kNone) {  // the callback refused these: never here
        g_admission->CountAccepted(s, AddressOf(reinterpret_cast<sockaddr*>(&peer), false));
        g_admission->Release(AddressOf(reinterpret_cast<sockaddr*>(&peer), false));
        srt_close(s);
        continue;
      }
      stream = id.stream;
      token = id.token;
    }
    auto c = std::make_shared<Conn>();
    c->sock = s;
    c->address = AddressOf(reinterpret_cast<sockaddr*>(&peer), false);
    g_admission->CountAccepted(s, c->address);
    {
      std::lock_guard<std::mutex> lock(g_mu);
      c->id = g_next_id++;
      g_conns[c->id] = c;
    }
    c->fifo = g_opt.dir + "/srt-" + std::to_string(c->id) + ".ts";
    unlink(c->fifo.c_str());
    if (mkfifo(c->fifo.c_str(), 0600) != 0) {
      Say("error mkfifo " + c->fifo + ": " + std::strerror(errno));
      g_admission->Release(c->address);
      Finish(c, -1, 0, "no FIFO");
      continue;
    }
    Say("caller " + std::to_string(c->id) + " " + std::to_string(l->index) + " " + AddressOf(reinterpret_cast<sockaddr*>(&peer), true) + " " + stream + " " +
        (token.empty() ? "-" : token) + " " + c->fifo);
    std::thread(Serve, c).detach();
  }
}

bool Open(Listener& l) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  std::string port = std::to_string(l.port);
  if (getaddrinfo(l.host.c_str(), port.c_str(), &hints, &res) != 0 || !res) {
    Say("error cannot resolve " + l.host);
    return false;
  }
  l.sock = srt_create_socket();
  int latency = g_opt.latency_ms, idle = g_opt.peer_idle_ms;
  srt_setsockflag(l.sock, SRTO_RCVLATENCY, &latency, sizeof latency);
  srt_setsockflag(l.sock, SRTO_PEERIDLETIMEO, &idle, sizeof idle);
  if (!l.passphrase.empty()) srt_setsockflag(l.sock, SRTO_PASSPHRASE, l.passphrase.data(), static_cast<int>(l.passphrase.size()));
  int rc = srt_bind(l.sock, res->ai_addr, static_cast<int>(res->ai_addrlen));
  freeaddrinfo(res);
  if (rc != 0 || srt_listen(l.sock, 16) != 0 || srt_listen_callback(l.sock, OnListen, &l) != 0) {
    Say("error cannot listen on " + l.host + ":" + port + ": " + srt_getlasterror_str());
    return false;
  }
  sockaddr_storage local{};
  int len = sizeof local;
  srt_getsockname(l.sock, reinterpret_cast<sockaddr*>(&local), &len);
  const auto* sa = reinterpret_cast<const sockaddr*>(&local);
  int bound = sa->sa_family == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port) : ntohs(reinterpret_cast<const sockaddr_in*>(sa)->sin_port);
  Say("listening " + std::to_string(l.index) + " " + std::to_string(bound));
  return true;
}

void Control(const std::string& line) {
  std::istringstream in(line);
  std::string verb;
  uint64_t id = 0;
  in >> verb >> id;
  std::shared_ptr<Conn> c;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = g_conns.find(id);
    if (it == g_conns.end()) return;  // already ended
    c = it->second;
  }
  if (verb == "accept" || verb == "reject") {
    std::lock_guard<std::mutex> lock(c->mu);
    if (c->decision == Decision::kNone) c->decision = verb == "accept" ? Decision::kAccept : Decision::kReject;
  } else if (verb == "close") {
    c->stop = true;
  }
  c->cv.notify_all();
}

int IntArg(const char* v, int lo, int hi) {
  int n = std::atoi(v);
  return n < lo ? lo : n > hi ? hi : n;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : "";
    if (a == "--dir") g_opt.dir = v, i++;
    else if (a == "--latency-ms") g_opt.latency_ms = IntArg(v, 20, 8000), i++;
    else if (a == "--peer-idle-ms") g_opt.peer_idle_ms = IntArg(v, 1000, 60000), i++;
    else if (a == "--max-pending") g_opt.max_pending = IntArg(v, 1, 10000), i++;
    else if (a == "--auth-timeout-ms") g_opt.auth_timeout_ms = IntArg(v, 100, 60000), i++;
    else if (a == "--token-required") g_opt.token_required = true;
    else {
      std::fprintf(stderr, "halfsec-srt: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (g_opt.dir.empty()) {
    std::fprintf(stderr, "halfsec-srt: --dir <private directory for FIFOs> is required\n");
    return 2;
  }
  g_admission = std::make_unique<CallerAdmission>(g_opt.max_pending, g_opt.max_pending_per_address);
  std::vector<std::unique_ptr<Listener>> listeners;
  std::string line;
  while (std::getline(std::cin, line) && line != "start") {
    std::istringstream in(line);
    auto l = std::make_unique<Listener>();
    std::string verb;
    in >> verb >> l->host >> l->port >> l->stream >> l->passphrase;
    if (verb != "listen" || l->port < 0 || l->port > 65535 || l->stream.empty() || listeners.size() >= 64) {
      Say("error bad listen line");
      return 2;
    }
    if (l->stream == "*") l->stream.clear();
    l->index = static_cast<int>(listeners.size());
    listeners.push_back(std::move(l));
  }
  if (line != "start") return 0;
  srt_startup();
  srt_setloglevel(LOG_CRIT);
  for (auto& l : listeners) {
    if (!Open(*l)) return 1;
  }
  Say("ready");
  for (auto& l : listeners) std::thread(AcceptLoop, l.get()).detach();
  std::thread(Housekeeping).detach();
  while (std::getline(std::cin, line)) Control(line);
  // The relay is gone (or closed us): nothing may outlive it.
  std::lock_guard<std::mutex> lock(g_mu);
  for (auto& [id, c] : g_conns) {
    srt_close(c->sock);
    unlink(c->fifo.c_str());
  }
  for (auto& l : listeners) srt_close(l->sock);
  std::fflush(stdout);
  _exit(0);
}
