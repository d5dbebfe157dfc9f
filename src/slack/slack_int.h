/* Internal to src/slack/: hooks for tests (src/slack/import.c). */
#ifndef KIZUNA_SLACK_INT_H
#define KIZUNA_SLACK_INT_H

#include <stddef.h>

/*
 * For tests: n > 0, an import applies the views to its open batch after
 * every n appends, whether or not its reader is behind (else it does so
 * only when the reader is behind: IDLE_APPLY_MIN), so a test can compare
 * an import applied in pieces with one applied at each commit.  0: off.
 * Process-wide; off unless a test turns it on.
 */
void kz__slack_apply_every(size_t n);

#endif
