// RFC 4571 framing and the bounded ICE-TCP send queue.
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/check.h"
#include "transport/rfc4571.h"
#include "transport/tcp_socket.h"

using namespace halfsec;

namespace {
std::vector<uint8_t> Frame(size_t len, uint8_t fill) {
  std::vector<uint8_t> f{static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)};
  f.insert(f.end(), len, fill);
  return f;
}
struct Sink {
  std::vector<std::vector<uint8_t>> frames;
  bool operator()(const uint8_t* d, size_t n) {
    frames.emplace_back(d, d + n);
    return true;
  }
};
}  // namespace

TEST(rfc4571_partial_frames_byte_by_byte) {
  Rfc4571Framer f(1500);
  Sink sink;
  const auto a = Frame(300, 0xaa);
  for (uint8_t b : a) CHECK(f.Feed(&b, 1, sink) == Rfc4571Framer::Status::kOk);
  CHECK(sink.frames.size() == 1);
  CHECK(sink.frames[0].size() == 300 && sink.frames[0][299] == 0xaa);
  CHECK(f.buffered() == 0);
}

TEST(rfc4571_several_frames_in_one_read_and_a_split_tail) {
  Rfc4571Framer f(1500);
  Sink sink;
  std::vector<uint8_t> in;
  for (int i = 1; i <= 3; i++) {
    const auto fr = Frame(100 * i, static_cast<uint8_t>(i));
    in.insert(in.end(), fr.begin(), fr.end());
  }
  const auto tail = Frame(1500, 9);  // the largest accepted frame, split across two reads
  in.insert(in.end(), tail.begin(), tail.begin() + 700);
  CHECK(f.Feed(in.data(), in.size(), sink) == Rfc4571Framer::Status::kOk);
  CHECK(sink.frames.size() == 3);
  CHECK(sink.frames[2].size() == 300 && sink.frames[2][0] == 3);
  CHECK(f.Feed(tail.data() + 700, tail.size() - 700, sink) == Rfc4571Framer::Status::kOk);
  CHECK(sink.frames.size() == 4 && sink.frames[3].size() == 1500);
}

TEST(rfc4571_oversize_and_empty_frames_are_errors) {
  Rfc4571Framer f(1500);
  Sink sink;
  const uint8_t big[2] = {0x05, 0xdd};  // 1501
  CHECK(f.Feed(big, 2, sink) == Rfc4571Framer::Status::kOversize);
  Rfc4571Framer g(1500);
  const uint8_t zero[2] = {0, 0};
  CHECK(g.Feed(zero, 2, sink) == Rfc4571Framer::Status::kOversize);
  CHECK(sink.frames.empty());
}

TEST(rfc4571_stop_keeps_the_rest_for_resume) {
  Rfc4571Framer f(1500);
  std::vector<uint8_t> in = Frame(10, 1);
  const auto b = Frame(20, 2);
  in.insert(in.end(), b.begin(), b.end());
  int calls = 0;
  CHECK(f.Feed(in.data(), in.size(), [&](const uint8_t*, size_t) { return ++calls > 1; }) == Rfc4571Framer::Status::kStopped);
  CHECK(calls == 1);
  Sink sink;
  CHECK(f.Feed(nullptr, 0, sink) == Rfc4571Framer::Status::kOk);
  CHECK(sink.frames.size() == 1 && sink.frames[0].size() == 20);
}

TEST(tcp_send_queue_is_bounded_and_frames_stay_whole) {
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
  const int small = 4096;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  sockaddr_storage none{};
  TcpConnection c(sv[0], none, 1500, 16 * 1024);
  std::vector<uint8_t> pkt(1000, 0x5a);
  int queued = 0, dropped = 0;
  // The peer never reads: the kernel buffer fills, then the bounded queue, then packets drop.
  for (int i = 0; i < 400; i++) {
    if (c.Queue(pkt.data(), pkt.size())) {
      queued++;
    } else {
      dropped++;
    }
    c.Flush();
  }
  CHECK(dropped > 0);
  CHECK(queued > 0 && queued < 400);
  CHECK(c.pending());
  // The reader drains: every byte it gets parses into whole 1000-byte frames.
  Rfc4571Framer f(1500);
  int frames = 0;
  bool whole = true;
  uint8_t buf[8192];
  for (int round = 0; round < 10000 && (c.pending() || frames < queued); round++) {
    c.Flush();
    const ssize_t r = read(sv[1], buf, sizeof(buf));
    if (r > 0) {
      f.Feed(buf, static_cast<size_t>(r), [&](const uint8_t* d, size_t n) {
        whole = whole && n == 1000 && d[0] == 0x5a && d[999] == 0x5a;
        frames++;
        return true;
      });
    }
  }
  CHECK(whole);
  CHECK(frames == queued);
  CHECK(!c.pending());
  close(sv[1]);
}

TEST(tcp_path_keys_never_collide_with_udp_keys) {
  CHECK(TcpPathKey(1).size() != 6 && TcpPathKey(1).size() != 18);
  CHECK(TcpPathKey(1) != TcpPathKey(2));
}
