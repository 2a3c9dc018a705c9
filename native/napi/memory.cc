// Allocator figures for the memory benchmark (bench/memory): glibc's view of the process heap,
// summed and per arena, and a way to hand free pages back. Diagnostic only; reads no peer state.
#include <malloc.h>
#include <napi.h>

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

}  // namespace

void RegisterMemoryExports(Napi::Env env, Napi::Object obj) {
  obj.Set("mallocStats", Napi::Function::New(env, MallocStats, "mallocStats"));
  obj.Set("mallocTrim", Napi::Function::New(env, MallocTrim, "mallocTrim"));
}

}  // namespace halfsec
