import sys

from recipes.transfer_learning.recipe import main

sys.exit(main())
