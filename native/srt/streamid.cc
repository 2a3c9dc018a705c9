#include "srt/streamid.h"

namespace halfsec::srt {

namespace {

bool StreamChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '~' || c == '-';
}

// JWS compact serialization: base64url segments joined by '.' (RFC 7515 §7.1).
bool TokenChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

}  // namespace

bool ValidStreamName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (!StreamChar(c)) return false;
  }
  return true;
}

StreamId ParseStreamId(std::string_view raw) {
  StreamId out;
  if (raw.empty()) {
    out.error = StreamIdError::kEmpty;
    return out;
  }
  constexpr std::string_view kPublish = "publish:";
  if (raw.substr(0, kPublish.size()) != kPublish) {
    out.error = StreamIdError::kMode;
    return out;
  }
  std::string_view rest = raw.substr(kPublish.size());
  std::string_view stream = rest;
  std::string_view token;
  if (auto colon = rest.find(':'); colon != std::string_view::npos) {
    stream = rest.substr(0, colon);
    token = rest.substr(colon + 1);
    if (token.empty() || token.size() > 2048) {
      out.error = StreamIdError::kToken;
      return out;
    }
    for (char c : token) {
      if (!TokenChar(c)) {
        out.error = StreamIdError::kToken;
        return out;
      }
    }
  }
  if (!ValidStreamName(stream)) {
    out.error = StreamIdError::kStream;
    return out;
  }
  out.stream = std::string(stream);
  out.token = std::string(token);
  return out;
}

const char* Describe(StreamIdError e) {
  switch (e) {
    case StreamIdError::kNone: return "ok";
    case StreamIdError::kEmpty: return "no streamid (use streamid=publish:<stream>)";
    case StreamIdError::kMode: return "streamid is not publish:<stream>[:<token>]";
    case StreamIdError::kStream: return "stream name must be 1-128 characters of A-Z a-z 0-9 _ . ~ -";
    case StreamIdError::kToken: return "token must be a JWT (base64url segments and '.')";
  }
  return "?";
}

}  // namespace halfsec::srt
