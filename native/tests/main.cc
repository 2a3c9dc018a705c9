// Runs every registered native unit test; exit status 1 when any check failed. An optional
// argument runs only the tests whose name contains it.
#include <cstring>

#include "tests/check.h"

namespace halfsec::test {
std::vector<Case>& Cases() {
  static std::vector<Case> cases;
  return cases;
}
int failures = 0;
}  // namespace halfsec::test

int main(int argc, char** argv) {
  using namespace halfsec::test;
  int ran = 0;
  for (const Case& c : Cases()) {
    if (argc > 1 && !std::strstr(c.name, argv[1])) continue;
    const int before = failures;
    c.fn();
    ran++;
    std::printf("%s %s\n", failures == before ? "ok" : "FAIL", c.name);
  }
  std::printf("%d tests, %d failed checks\n", ran, failures);
  return failures == 0 && ran > 0 ? 0 : 1;
}
