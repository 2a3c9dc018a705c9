#include "media/keyframe_request_pacer.h"
#include "media/token_bucket.h"
#include "tests/check.h"

namespace halfsec {

TEST(KeyframeRequestPacerMergesRequestsWithinTheInterval) {
  KeyframeRequestPacer p(300);
  CHECK(p.Allow(1000));
  CHECK(!p.Allow(1001));
  CHECK(!p.Allow(1299));
  CHECK(p.Allow(1300));
  CHECK(!p.Allow(1400));
}

TEST(TokenBucketAllowsABurstThenTheRate) {
  TokenBucket b(100, 5);  // 100 per second = one per 10 ms
  b.Start(0);
  int taken = 0;
  for (int i = 0; i < 10; i++) taken += b.Take(0);
  CHECK_EQ(taken, 5);
  CHECK(!b.Take(9));
  CHECK(b.Take(19));
  // A long silence refills only up to the burst.
  taken = 0;
  for (int i = 0; i < 10; i++) taken += b.Take(100000);
  CHECK_EQ(taken, 5);
}

}  // namespace halfsec
