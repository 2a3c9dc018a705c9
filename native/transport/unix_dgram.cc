#include "transport/unix_dgram.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace halfsec {

int OpenUnixDgramSocket(const std::string& path, int rcvbuf_bytes, std::string* error) {
  sockaddr_un sa{};
  if (path.empty() || path[0] != '/' || path.size() >= sizeof(sa.sun_path)) {
    *error = "ingest socket path must be absolute and shorter than " + std::to_string(sizeof(sa.sun_path)) + " bytes";
    return -1;
  }
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return *error = std::string("socket(AF_UNIX): ") + strerror(errno), -1;
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof(rcvbuf_bytes));
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.data(), path.size());
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    *error = "bind " + path + ": " + strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

ssize_t ReceiveWithSender(int fd, uint8_t* buf, size_t cap, pid_t* pid) {
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(ucred))];
  iovec iov{buf, cap};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const ssize_t r = recvmsg(fd, &msg, MSG_DONTWAIT);
  if (r < 0) return -1;
  *pid = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
      ucred cred;
      std::memcpy(&cred, CMSG_DATA(c), sizeof(cred));
      *pid = cred.pid;
    }
  }
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) return 0;
  return r;
}

}  // namespace halfsec
