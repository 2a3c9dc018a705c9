// Conversions between JS values and the data plane's plain C++ types, kept apart from the Engine
// class (addon.cc) so each side of the boundary reads on its own: configuration in
// (config_from_js.cc), events and statistics out (reports_to_js.cc). Only control data crosses
// here; no media packet ever does.
#pragma once

#include <napi.h>

#include <string>

#include "fanout/engine.h"

namespace halfsec {

// Fills `opts` from `new Engine(options)`'s object ({ workers, bindAddress, portBase, portCount,
// keyframeCacheMaxAgeMs, udpGso, fanoutCoalesceUs, pinWorkers, workerRealtimePriority, connectTimeoutMs,
// consentTimeoutMs, publisherMediaTimeoutMs, tcpPort, tcpMaxPerAddress, tcpMaxPerWorker,
// tcpSendQueueBytes }); numbers out of range are clamped, except the ports, which fail. Returns
// false with a message for a TypeError.
bool ReadEngineOptions(const Napi::Object& o, EngineOptions* opts, std::string* error);

// Fills `cfg` (all but its id) from addPeer's object; the keys are listed at EngineWrap::AddPeer.
// Returns false with a message for a TypeError on any missing or out-of-range value.
bool ReadPeerConfig(const Napi::Object& o, Engine& engine, PeerConfig* cfg, std::string* error);

// One engine event as { type, peerId, detail?, feedback?, layerBps?, layerSsrc?, audioBps?, atMs? }.
Napi::Object EventToJs(Napi::Env env, const EngineEvent& ev);

// One worker's counters as stats().workers[i] (packets and bytes as Numbers, residence buckets
// in the bounds of `residenceBucketsSeconds`).
Napi::Object WorkerStatsToJs(Napi::Env env, const Worker& w);

}  // namespace halfsec
