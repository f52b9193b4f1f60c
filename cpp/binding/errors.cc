#include "errors.h"

namespace ls {
namespace binding {

CallDevice& call_device() {
  static thread_local CallDevice state;
  return state;
}

Napi::Error to_js_error(Napi::Env env, std::exception_ptr error) {
  std::string code = "ERR_INTERNAL";
  Napi::Error js;
  try {
    std::rethrow_exception(error);
  } catch (const ArgumentError& e) {
    code = e.code();
    js = e.is_type_error() ? Napi::Error(Napi::TypeError::New(env, e.what())) : Napi::Error(Napi::RangeError::New(env, e.what()));
  } catch (const BackendError& e) {
    code = e.code();
    js = Napi::Error::New(env, e.what());
  } catch (const std::bad_alloc&) {
    code = "ERR_OUT_OF_MEMORY";
    js = Napi::Error::New(env, "out of host memory");
  } catch (const std::exception& e) {
    js = Napi::Error::New(env, std::string("internal error: ") + e.what());
  } catch (...) {
    js = Napi::Error::New(env, "internal error");
  }
  js.Set("code", Napi::String::New(env, code));
  return js;
}

}  // namespace binding
}  // namespace ls
