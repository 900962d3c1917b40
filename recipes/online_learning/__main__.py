import sys

from recipes.online_learning.recipe import main

sys.exit(main())
