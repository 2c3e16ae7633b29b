import sys

from stackkit.bench.runner import main

sys.exit(main())
