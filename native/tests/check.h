// A minimal test harness for the native unit tests: no framework, no exceptions.
#pragma once
#include <cstdio>
#include <vector>

namespace halfsec::test {

struct Case {
  const char* name;
  void (*fn)();
};
std::vector<Case>& Cases();
extern int failures;

struct Register {
  Register(const char* name, void (*fn)()) { Cases().push_back({name, fn}); }
};

}  // namespace halfsec::test

#define TEST(name)                                                   \
  static void name();                                                \
  static ::halfsec::test::Register name##_registered(#name, &name); \
  static void name()

#define CHECK(cond)                                                         \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ::halfsec::test::failures++;                                          \
    }                                                                       \
  } while (0)

#define CHECK_EQ(a, b)                                                                                  \
  do {                                                                                                  \
    const auto va_ = (a);                                                                               \
    const auto vb_ = (b);                                                                               \
    if (!(va_ == vb_)) {                                                                                \
      std::fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, #a, #b, \
                   static_cast<long long>(va_), static_cast<long long>(vb_));                          \
      ::halfsec::test::failures++;                                                                      \
    }                                                                                                   \
  } while (0)
