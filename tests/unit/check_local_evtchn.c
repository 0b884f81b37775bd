/* SPDX-License-Identifier: MIT */
/* STUB: no tests yet */
#include "config.h"
#include "testutil.h"
int main(void)
{
	return 77;
}
