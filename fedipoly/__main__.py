import sys

from fedipoly.cli import main

sys.exit(main())
