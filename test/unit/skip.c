/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/* Stand-in for a cmocka unit test when configure found no cmocka. */
#include <stdio.h>

int main(void)
{
	printf("SKIP: cmocka was not found at configure time "
	       "(install libcmocka-dev and re-run configure)\n");
	return 77;
}
