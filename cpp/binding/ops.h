// Registration of each family of N-API entry points (one .cc per family).
#pragma once
#include <napi.h>

namespace ls {
namespace binding {

void register_categorical_ops(Napi::Env env, Napi::Object exports);
void register_linear_chain_ops(Napi::Env env, Napi::Object exports);
void register_tree_ops(Napi::Env env, Napi::Object exports);
/// Internal: the estimators' arithmetic over parts (lib/estimators/parts.ts).
void register_parts_ops(Napi::Env env, Napi::Object exports);
/// Internal: the bench's measured CPU ceilings.
void register_roofline_ops(Napi::Env env, Napi::Object exports);

}  // namespace binding
}  // namespace ls
