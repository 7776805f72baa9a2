import sys

from courtcast.cli import main

sys.exit(main())
