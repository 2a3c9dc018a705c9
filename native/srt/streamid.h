// The SRT caller's stream id (SRTO_STREAMID, at most 512 bytes) as the relay's shared SRT port
// reads it: "publish:<stream>" or "publish:<stream>:<token>". Pure parsing, no libsrt.
#pragma once

#include <string>
#include <string_view>

namespace halfsec::srt {

enum class StreamIdError {
  kNone,
  kEmpty,        // no stream id at all (an HSv4 caller, or none set)
  kMode,         // a mode other than publish (e.g. "request:", "play:")
  kStream,       // not 1-128 characters of A-Z a-z 0-9 _ . ~ -
  kToken,        // not 1-2048 characters of a JWT's alphabet (base64url and '.')
};

struct StreamId {
  std::string stream;
  std::string token;  // empty: none given
  StreamIdError error = StreamIdError::kNone;
};

StreamId ParseStreamId(std::string_view raw);
bool ValidStreamName(std::string_view name);
const char* Describe(StreamIdError e);

}  // namespace halfsec::srt
