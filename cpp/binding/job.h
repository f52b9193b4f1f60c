// One op call = a Job: `compute` does the numeric work without touching JS (it may run on a libuv worker
// thread), `finish` builds the JS result on the main thread. Sync calls run both inline; async calls run
// compute in an AsyncWorker and settle a Promise. Errors keep their JS type and code either way.
#pragma once
#include <napi.h>

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"
#include "tensor.h"
#if LS_WITH_CUDA
#include "latent_struct/device.h"
#endif

namespace ls {
namespace binding {

struct Job {
  std::function<void()> compute;
  std::function<Napi::Value(Napi::Env)> finish;
  /// JS objects (inputs, outputs) and device memory the compute step uses, held until the job settles.
  std::vector<std::shared_ptr<Napi::Reference<Napi::Value>>> keep_js;
  std::vector<std::shared_ptr<DeviceMemory>> keep_device;
  /// The host inputs by name: copied before an async job is queued, checked before a sync job runs.
  std::vector<std::pair<std::shared_ptr<HostData>, std::string>> host_inputs;
  /// Outputs that are a caller's host `out` arrays: checked before a sync job runs, committed when an async one settles.
  std::vector<Output> host_outs;
  /// The CUDA device the compute step runs on (the call's, CallDevice), -1 for host work: an async job sets it on
  /// the libuv worker thread that runs it, so its launches, allocations and copies go to that device's stream.
  int device = -1;

  void hold(const TensorArg& arg) {
    keep_js.push_back(arg.keep);
    if (arg.device_memory) keep_device.push_back(arg.device_memory);
    if (arg.host) host_inputs.emplace_back(arg.host, arg.name);
  }
  void hold(const Output& out) {
    keep_js.push_back(out.keep);
    if (out.device_memory) keep_device.push_back(out.device_memory);
    if (out.target) host_outs.push_back(out);
  }
};

class JobWorker : public Napi::AsyncWorker {
 public:
  JobWorker(Napi::Env env, Job job) : Napi::AsyncWorker(env, "latent-struct"), job_(std::move(job)), deferred_(env) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
#if LS_WITH_CUDA
      if (job_.device >= 0) cuda::set_device(job_.device);
#endif
      job_.compute();
    } catch (...) {
      error_ = std::current_exception();
    }
  }
  /// Settles the Promise, unless the environment is shutting down (a worker thread terminated while the job ran):
  /// then no JS can run, N-API calls fail and node-addon-api would turn that into std::terminate.
  void OnWorkComplete(Napi::Env env, napi_status status) override {
    if (status != napi_cancelled) {
      try {
        Napi::HandleScope scope(env);
        OnOK();
      } catch (...) {
        // Nobody is left to receive the result.
      }
    }
    Destroy();
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (error_) {
      deferred_.Reject(to_js_error(env, error_).Value());
      return;
    }
    try {
      for (const Output& out : job_.host_outs) out.commit(env);
      deferred_.Resolve(job_.finish(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      deferred_.Reject(to_js_error(env, std::current_exception()).Value());
    }
  }

 private:
  Job job_;
  Napi::Promise::Deferred deferred_;
  std::exception_ptr error_;
};

/// Runs the job now (returning its result) or on a worker thread (returning a Promise).
inline Napi::Value run_job(Napi::Env env, Job job, bool async) {
  if (!async) {
    for (const auto& [input, name] : job.host_inputs) input->require_unchanged(env, name);
    for (const Output& out : job.host_outs) out.target->require_unchanged(env, out.name);
    job.compute();
    return job.finish(env);
  }
  for (const auto& input : job.host_inputs) input.first->take_copy();
  job.device = call_device().device;
  JobWorker* worker = new JobWorker(env, std::move(job));
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace binding
}  // namespace ls
