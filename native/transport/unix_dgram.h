// The local ingest socket: an AF_UNIX datagram socket whose every datagram carries the sender's
// process id as the kernel saw it (SCM_CREDENTIALS, unix(7)). The relay's own FFmpeg children
// write plain RTP/RTCP to it; the pid lets the data plane take datagrams from exactly the child
// it started and from nobody else (a process can only claim another pid with CAP_SYS_ADMIN).
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace halfsec {

// Binds a non-blocking SOCK_DGRAM socket at `path` (an absolute filesystem path shorter than
// sun_path; an existing file there is an error, never replaced), with SO_PASSCRED and
// `rcvbuf_bytes` of receive buffer. Returns the descriptor, or -1 with `*error` set.
int OpenUnixDgramSocket(const std::string& path, int rcvbuf_bytes, std::string* error);

// One datagram into `buf` (at most `cap` bytes) and the sender's pid (0 when the kernel gave
// none). Returns its length, 0 for an empty or truncated one (to be dropped), -1 when none waits.
ssize_t ReceiveWithSender(int fd, uint8_t* buf, size_t cap, pid_t* pid);

}  // namespace halfsec
