#include <string>

#include "srt/streamid.h"
#include "tests/check.h"

namespace halfsec {

using srt::ParseStreamId;
using srt::StreamIdError;

TEST(SrtStreamIdPublishWithAndWithoutToken) {
  auto a = ParseStreamId("publish:live");
  CHECK(a.error == StreamIdError::kNone);
  CHECK(a.stream == "live");
  CHECK(a.token.empty());
  auto b = ParseStreamId("publish:cam_1.main~x-y:eyJhbGciOiJIUzI1NiJ9.eyJzIjoxfQ.c2ln-_");
  CHECK(b.error == StreamIdError::kNone);
  CHECK(b.stream == "cam_1.main~x-y");
  CHECK(b.token == "eyJhbGciOiJIUzI1NiJ9.eyJzIjoxfQ.c2ln-_");
}

TEST(SrtStreamIdRefusesOtherShapes) {
  CHECK(ParseStreamId("").error == StreamIdError::kEmpty);
  CHECK(ParseStreamId("play:live").error == StreamIdError::kMode);
  CHECK(ParseStreamId("#!::r=live,m=publish").error == StreamIdError::kMode);
  CHECK(ParseStreamId("PUBLISH:live").error == StreamIdError::kMode);
  CHECK(ParseStreamId("publish:").error == StreamIdError::kStream);
  CHECK(ParseStreamId("publish:a/b").error == StreamIdError::kStream);
  CHECK(ParseStreamId("publish:a b").error == StreamIdError::kStream);
  CHECK(ParseStreamId(std::string("publish:") + std::string(129, 'a')).error == StreamIdError::kStream);
  CHECK(ParseStreamId(std::string("publish:") + std::string(128, 'a')).error == StreamIdError::kNone);
  CHECK(ParseStreamId("publish:live:").error == StreamIdError::kToken);
  CHECK(ParseStreamId("publish:live:a:b").error == StreamIdError::kToken);
  CHECK(ParseStreamId("publish:live:a b").error == StreamIdError::kToken);
  CHECK(ParseStreamId("publish:live:a=b").error == StreamIdError::kToken);
  CHECK(ParseStreamId(std::string("publish:live:") + std::string(2049, 'a')).error == StreamIdError::kToken);
  // A NUL inside (the view carries its length) is not a token character either.
  CHECK(ParseStreamId(std::string_view("publish:live:a\0b", 16)).error == StreamIdError::kToken);
}

}  // namespace halfsec
