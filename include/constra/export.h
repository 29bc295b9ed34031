/*
 * libconstra — the one export macro.
 *
 * Every public function is declared `CONSTRA_API`. The library is compiled
 * with -fvisibility=hidden, so anything not marked stays out of the dynamic
 * symbol table (tests/abi checks that only `constra_` names are exported).
 */
#ifndef CONSTRA_EXPORT_H
#define CONSTRA_EXPORT_H

#if defined(_WIN32) || defined(__CYGWIN__)
#  if defined(CONSTRA_BUILDING) && !defined(CONSTRA_STATIC)
#    define CONSTRA_API __declspec(dllexport)
#  elif !defined(CONSTRA_STATIC)
#    define CONSTRA_API __declspec(dllimport)
#  else
#    define CONSTRA_API
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define CONSTRA_API __attribute__((visibility("default")))
#else
#  define CONSTRA_API
#endif

#ifdef __cplusplus
#  define CONSTRA_BEGIN_DECLS extern "C" {
#  define CONSTRA_END_DECLS }
#else
#  define CONSTRA_BEGIN_DECLS
#  define CONSTRA_END_DECLS
#endif

#endif /* CONSTRA_EXPORT_H */
