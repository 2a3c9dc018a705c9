// Allocator figures for the memory benchmark (bench/memory): glibc's view of the process heap,
// summed and per arena, and a way to hand free pages back. Diagnostic only; reads no peer state.
#include <malloc.h>
#include <napi.h>
#include <v8.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace halfsec {
namespace {

// mallocStats() -> { arena, ordblks, uordblks, fordblks, hblkhd, keepcost, info }: mallinfo2's
// byte counts summed over every arena (arena: bytes obtained with sbrk/mmap for arenas;
// uordblks: in use; fordblks: free inside arenas; hblkhd: in mmap'ed chunks) and malloc_info's
// XML (one <heap> per arena) for the per-arena split.
Napi::Value MallocStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const struct mallinfo2 m = mallinfo2();
  Napi::Object o = Napi::Object::New(env);
  o.Set("arena", static_cast<double>(m.arena));
  o.Set("ordblks", static_cast<double>(m.ordblks));
  o.Set("uordblks", static_cast<double>(m.uordblks));
  o.Set("fordblks", static_cast<double>(m.fordblks));
  o.Set("hblkhd", static_cast<double>(m.hblkhd));
  o.Set("keepcost", static_cast<double>(m.keepcost));
  char* buf = nullptr;
  size_t len = 0;
  if (FILE* f = open_memstream(&buf, &len)) {
    malloc_info(0, f);
    fclose(f);
    o.Set("info", Napi::String::New(env, buf ? buf : "", len));
    free(buf);
  }
  return o;
}

// mallocTrim() -> boolean: malloc_trim(0), true when memory went back to the system.
Napi::Value MallocTrim(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
}

double MicrosSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

// malloc_trim(0) on a libuv pool thread: neither the JS thread nor a media worker runs it. It
// locks one arena at a time while it hands that arena's free pages back (madvise), so a worker
// that mallocs meanwhile waits at most for one arena's walk.
class TrimWorker : public Napi::AsyncWorker {
 public:
  TrimWorker(Napi::Env env, double gc_micros)
      : Napi::AsyncWorker(env, "halfsec:malloc_trim"), deferred_(Napi::Promise::Deferred::New(env)), gc_micros_(gc_micros) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    const auto t0 = std::chrono::steady_clock::now();
    released_ = malloc_trim(0) != 0;
    trim_micros_ = MicrosSince(t0);
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("released", released_);
    o.Set("trimMicros", trim_micros_);
    o.Set("gcMicros", gc_micros_);
    deferred_.Resolve(o);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  double gc_micros_;
  double trim_micros_ = 0;
  bool released_ = false;
};

// reclaimMemory(reduceHeap: boolean) -> Promise<{ released, trimMicros, gcMicros }>: after a burst
// of joins, gives back what the burst freed but the process still holds. With reduceHeap, first a
// memory-reducing V8 GC on this (JS) thread, which also shrinks V8's young generation to what it
// holds live (it otherwise stays at the size the burst grew it to, up to 2 x --max-semi-space-size);
// then malloc_trim(0) off-thread for glibc's arenas (memory freed after the DTLS handshakes sits
// in holes between live allocations, which glibc hands back only when trimmed).
// V8's own API (v8.h) is used for the one call N-API lacks; the addon is built against the running
// Node at install (node-gyp), and MemoryPressureNotification has kept its signature since V8 5.x.
Napi::Value ReclaimMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double gc_micros = 0;
  if (info.Length() > 0 && info[0].ToBoolean().Value()) {
    const auto t0 = std::chrono::steady_clock::now();
    if (v8::Isolate* isolate = v8::Isolate::GetCurrent()) isolate->MemoryPressureNotification(v8::MemoryPressureLevel::kCritical);
    gc_micros = MicrosSince(t0);
  }
  auto* w = new TrimWorker(env, gc_micros);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

void RegisterReclaimExports(Napi::Env env, Napi::Object obj) {
  obj.Set("reclaimMemory", Napi::Function::New(env, ReclaimMemory, "reclaimMemory"));
}

void RegisterMemoryExports(Napi::Env env, Napi::Object obj) {
  obj.Set("mallocStats", Napi::Function::New(env, MallocStats, "mallocStats"));
  obj.Set("mallocTrim", Napi::Function::New(env, MallocTrim, "mallocTrim"));
}

}  // namespace halfsec
