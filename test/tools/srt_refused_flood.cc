// Test tool: an SRT caller that is refused over and over. Connects to 127.0.0.1:<port> with the
// stream id <streamid> (one the listener refuses in the handshake) <count> times, from
// <threads> threads at once, and prints how many connects were refused. Built by the test that
// runs it (test/ingest-srt-flood.test.mjs) with libsrt's headers.
#include <arpa/inet.h>
#include <srt/srt.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s <port> <streamid> <count> <threads>\n", argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const char* sid = argv[2];
  const int count = std::atoi(argv[3]);
  const int threads = std::atoi(argv[4]);
  srt_startup();
  srt_setloglevel(LOG_CRIT);
  std::atomic<int> next{0}, refused{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; t++) {
    pool.emplace_back([&] {
      while (next.fetch_add(1) < count) {
        SRTSOCKET s = srt_create_socket();
        srt_setsockflag(s, SRTO_STREAMID, sid, static_cast<int>(std::strlen(sid)));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port));
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        if (srt_connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == SRT_ERROR) refused++;
        srt_close(s);
      }
    });
  }
  for (auto& th : pool) th.join();
  std::printf("%d\n", refused.load());
  srt_cleanup();
  return 0;
}
