// RFC 4571 framing: each packet on a stream transport (ICE-TCP, RFC 6544) is a 16-bit
// big-endian length followed by that many bytes. The framer turns the bytes of successive reads
// into whole frames, whatever the read boundaries; a frame longer than `max_frame` (the largest
// datagram the relay accepts on UDP) or of length zero is an error: the connection is closed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace halfsec {

class Rfc4571Framer {
 public:
  enum class Status : uint8_t { kOk, kOversize, kStopped };

  explicit Rfc4571Framer(size_t max_frame) : max_frame_(max_frame) { buf_.reserve(2 + max_frame); }

  // Appends `n` bytes (may be 0: only the bytes already held are parsed) and calls
  // `on_frame(const uint8_t*, size_t) -> bool` for each whole frame; a false return stops
  // parsing (kStopped) and keeps the rest for a later Feed. Memory is bounded: at most one
  // partial frame (2 + max_frame bytes) plus one read is held.
  template <class F>
  Status Feed(const uint8_t* d, size_t n, F&& on_frame) {
    if (n > 0) buf_.insert(buf_.end(), d, d + n);
    size_t off = 0;
    Status st = Status::kOk;
    while (buf_.size() - off >= 2) {
      const size_t len = (size_t{buf_[off]} << 8) | buf_[off + 1];
      if (len == 0 || len > max_frame_) {
        st = Status::kOversize;
        break;
      }
      if (buf_.size() - off < 2 + len) break;
      const uint8_t* frame = buf_.data() + off + 2;
      off += 2 + len;
      if (!on_frame(frame, len)) {
        st = Status::kStopped;
        break;
      }
    }
    if (off > 0) buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(off));
    return st;
  }
  size_t buffered() const { return buf_.size(); }

 private:
  size_t max_frame_;
  std::vector<uint8_t> buf_;
};

// A bounded outgoing byte queue of framed packets: a frame goes in whole or not at all, so a
// full queue drops packets and never corrupts the stream.
class FramedSendQueue {
 public:
  explicit FramedSendQueue(size_t cap) : cap_(cap) {}
  bool Push(const uint8_t* d, size_t n) {
    if (n == 0 || n > 0xffff || size() + 2 + n > cap_) return false;
    if (head_ > 0 && head_ >= buf_.size() / 2) Compact();
    const uint8_t hdr[2] = {static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
    buf_.insert(buf_.end(), hdr, hdr + 2);
    buf_.insert(buf_.end(), d, d + n);
    return true;
  }
  const uint8_t* data() const { return buf_.data() + head_; }
  size_t size() const { return buf_.size() - head_; }
  bool empty() const { return size() == 0; }
  void Consume(size_t n) {
    head_ += n;
    if (head_ >= buf_.size()) {
      buf_.clear();
      head_ = 0;
    }
  }

 private:
  void Compact() {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  size_t cap_;
  std::vector<uint8_t> buf_;
  size_t head_ = 0;
};

}  // namespace halfsec
