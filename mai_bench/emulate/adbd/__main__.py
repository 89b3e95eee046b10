import sys

from mai_bench.emulate.adbd.daemon import main

sys.exit(main())
