"""Vocabularies the simulator builds readable catalogue text, customer details and reviews from.

Everything here is plain data: categories with their nouns, materials, uses and price levels;
brand syllables; colours; places with their IANA time zone and language; first names; review
sentences by sentiment. The builders in ``catalog``, ``population`` and ``reviews`` combine them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CategorySpec:
    """One catalogue category: what its products are called and how they are priced.

    ``price_median`` and ``price_sigma`` parameterise a lognormal price; ``cost_ratio`` is the
    typical unit cost as a share of the price (gross margin = 1 - cost_ratio); ``weight`` is the
    category's share of the catalogue and of customers' interest.
    """

    name: str
    slug: str
    nouns: tuple[str, ...]
    materials: tuple[str, ...]
    uses: tuple[str, ...]
    features: tuple[str, ...]
    price_median: float
    price_sigma: float
    cost_ratio: float
    weight: float


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "Women's Clothing",
        "womens_clothing",
        ("Dress", "Blouse", "Cardigan", "Skirt", "Jumpsuit", "Trousers", "Knit Top", "Coat"),
        ("cotton", "linen", "merino wool", "silk", "viscose", "organic cotton", "cashmere blend"),
        ("the office", "weekends", "evenings out", "travel", "warm days", "layering"),
        ("a relaxed fit", "a flattering waist", "deep side pockets", "a soft lining", "a wrap front"),
        48.0,
        0.55,
        0.63,
        1.4,
    ),
    CategorySpec(
        "Men's Clothing",
        "mens_clothing",
        ("Shirt", "Chinos", "Sweater", "Jacket", "Polo", "Hoodie", "Overshirt", "Jeans"),
        ("cotton", "denim", "merino wool", "flannel", "twill", "recycled polyester", "linen"),
        ("the office", "weekends", "travel", "cool evenings", "everyday wear"),
        ("a tailored fit", "reinforced seams", "a button-down collar", "stretch for comfort", "a brushed finish"),
        52.0,
        0.5,
        0.63,
        1.2,
    ),
    CategorySpec(
        "Shoes",
        "shoes",
        ("Sneakers", "Loafers", "Ankle Boots", "Sandals", "Running Shoes", "Derby Shoes", "Slippers"),
        ("leather", "suede", "canvas", "knit mesh", "recycled rubber", "nubuck"),
        ("city walks", "running", "the office", "summer", "rainy days", "all-day wear"),
        ("a cushioned footbed", "a grippy sole", "a padded collar", "a wide fit", "water-resistant uppers"),
        75.0,
        0.45,
        0.65,
        1.0,
    ),
    CategorySpec(
        "Accessories",
        "accessories",
        ("Scarf", "Belt", "Tote Bag", "Wallet", "Beanie", "Sunglasses", "Backpack", "Watch Strap"),
        ("leather", "wool", "canvas", "cotton", "recycled nylon", "stainless steel"),
        ("commuting", "gifting", "travel", "everyday carry", "winter"),
        ("a magnetic clasp", "an inner zip pocket", "adjustable straps", "a gift box", "a slim profile"),
        30.0,
        0.6,
        0.58,
        0.9,
    ),
    CategorySpec(
        "Home & Kitchen",
        "home_kitchen",
        (
            "Mug Set",
            "Chef's Knife",
            "Throw Blanket",
            "Cushion Cover",
            "Frying Pan",
            "Table Lamp",
            "Storage Jar",
            "Bath Towel",
        ),
        ("stoneware", "stainless steel", "cast iron", "cotton", "bamboo", "borosilicate glass", "oak"),
        ("everyday cooking", "the living room", "small kitchens", "gifting", "hosting friends"),
        (
            "a dishwasher-safe finish",
            "an ergonomic handle",
            "a non-stick coating",
            "a stackable design",
            "a 5-year guarantee",
        ),
        35.0,
        0.65,
        0.65,
        1.1,
    ),
    CategorySpec(
        "Beauty",
        "beauty",
        ("Face Serum", "Moisturiser", "Lip Balm", "Shampoo", "Body Lotion", "Eye Cream", "Cleansing Oil"),
        ("hyaluronic acid", "shea butter", "vitamin C", "aloe vera", "argan oil", "niacinamide"),
        ("dry skin", "daily care", "sensitive skin", "the morning routine", "travel"),
        ("a light texture", "no added fragrance", "a refillable bottle", "dermatologist testing", "a vegan formula"),
        22.0,
        0.5,
        0.53,
        0.9,
    ),
    CategorySpec(
        "Sports & Outdoors",
        "sports_outdoors",
        ("Yoga Mat", "Water Bottle", "Running Jacket", "Hiking Socks", "Dumbbell Set", "Trail Pack", "Cycling Gloves"),
        ("recycled polyester", "stainless steel", "natural rubber", "merino wool", "ripstop nylon"),
        ("the gym", "trail running", "hiking", "home workouts", "cycling"),
        ("reflective details", "a non-slip surface", "quick-drying fabric", "a lifetime warranty", "a packable design"),
        40.0,
        0.6,
        0.68,
        0.8,
    ),
    CategorySpec(
        "Electronics",
        "electronics",
        (
            "Wireless Earbuds",
            "Phone Charger",
            "Bluetooth Speaker",
            "Smart Plug",
            "Power Bank",
            "USB-C Hub",
            "Desk Lamp",
        ),
        ("aluminium", "recycled plastic", "silicone", "braided nylon", "tempered glass"),
        ("the home office", "travel", "commuting", "gaming", "the bedroom"),
        ("fast charging", "20-hour battery life", "noise cancellation", "a compact design", "a 2-year warranty"),
        60.0,
        0.7,
        0.82,
        0.8,
    ),
    CategorySpec(
        "Toys & Games",
        "toys_games",
        ("Board Game", "Puzzle", "Building Set", "Plush Toy", "Card Game", "Craft Kit", "Wooden Train"),
        ("wood", "recycled cardboard", "soft plush", "ABS plastic", "cotton"),
        ("family evenings", "ages 3 and up", "gifting", "rainy afternoons", "party games"),
        ("clear instructions", "non-toxic paints", "replayable rounds", "a sturdy storage box", "over 500 pieces"),
        28.0,
        0.55,
        0.65,
        0.6,
    ),
    CategorySpec(
        "Books",
        "books",
        ("Cookbook", "Novel", "Travel Guide", "Notebook", "Planner", "Colouring Book", "Field Guide"),
        ("hardcover", "paperback", "recycled paper", "linen binding"),
        ("weekend reading", "gifting", "planning the year", "travel", "learning something new"),
        ("full-colour photographs", "a ribbon bookmark", "lay-flat binding", "a foreword by the author", "160 pages"),
        18.0,
        0.4,
        0.72,
        0.6,
    ),
    CategorySpec(
        "Garden",
        "garden",
        ("Plant Pot", "Pruning Shears", "Garden Gloves", "Watering Can", "Seed Kit", "Bird Feeder", "String Lights"),
        ("terracotta", "galvanised steel", "recycled plastic", "bamboo", "cedar wood"),
        ("balconies", "vegetable beds", "patios", "indoor plants", "spring planting"),
        ("drainage holes", "a rust-proof finish", "weatherproof materials", "a comfortable grip", "a compact size"),
        26.0,
        0.6,
        0.65,
        0.5,
    ),
    CategorySpec(
        "Pet Supplies",
        "pet_supplies",
        ("Dog Bed", "Cat Tree", "Lead", "Chew Toy", "Food Bowl", "Grooming Brush", "Pet Carrier"),
        ("recycled fleece", "ceramic", "nylon webbing", "natural rubber", "sisal"),
        ("large dogs", "indoor cats", "puppies", "daily walks", "travel with pets"),
        ("a washable cover", "a non-slip base", "a reflective stitch", "chew-resistant seams", "an easy-clean surface"),
        32.0,
        0.55,
        0.65,
        0.6,
    ),
)

COLOURS: tuple[str, ...] = (
    "Navy",
    "Sage",
    "Charcoal",
    "Ivory",
    "Terracotta",
    "Olive",
    "Sand",
    "Black",
    "White",
    "Forest Green",
    "Dusty Pink",
    "Ochre",
    "Slate Blue",
    "Burgundy",
    "Stone",
    "Teal",
)

BRAND_HEADS: tuple[str, ...] = (
    "Nord",
    "Alba",
    "Wren",
    "Kite",
    "Fjell",
    "Luma",
    "Oak",
    "Vela",
    "Brio",
    "Moss",
    "Tide",
    "Cove",
    "Ember",
    "Halden",
    "Juno",
    "Marlo",
    "Sol",
    "Ivo",
)
BRAND_TAILS: tuple[str, ...] = (
    "& Co",
    "Studio",
    "Works",
    "Supply",
    "House",
    "Lab",
    "Goods",
    "Atelier",
    "Outfitters",
    "Made",
)

#: (country, city, IANA time zone, language, weight)
PLACES: tuple[tuple[str, str, str, str, float], ...] = (
    ("United States", "New York", "America/New_York", "en", 9.0),
    ("United States", "Chicago", "America/Chicago", "en", 5.0),
    ("United States", "Los Angeles", "America/Los_Angeles", "en", 6.0),
    ("United States", "Denver", "America/Denver", "en", 2.0),
    ("Canada", "Toronto", "America/Toronto", "en", 3.0),
    ("United Kingdom", "London", "Europe/London", "en", 7.0),
    ("United Kingdom", "Manchester", "Europe/London", "en", 2.5),
    ("Ireland", "Dublin", "Europe/Dublin", "en", 1.5),
    ("Germany", "Berlin", "Europe/Berlin", "de", 4.0),
    ("Germany", "Munich", "Europe/Berlin", "de", 2.0),
    ("France", "Paris", "Europe/Paris", "fr", 3.5),
    ("France", "Lyon", "Europe/Paris", "fr", 1.5),
    ("Netherlands", "Amsterdam", "Europe/Amsterdam", "nl", 2.0),
    ("Spain", "Madrid", "Europe/Madrid", "es", 2.0),
    ("Italy", "Milan", "Europe/Rome", "it", 2.0),
    ("Sweden", "Stockholm", "Europe/Stockholm", "sv", 1.0),
    ("Australia", "Sydney", "Australia/Sydney", "en", 2.5),
    ("Japan", "Tokyo", "Asia/Tokyo", "ja", 1.5),
    ("Singapore", "Singapore", "Asia/Singapore", "en", 1.0),
)

FIRST_NAMES: tuple[str, ...] = (
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Lucas",
    "Mia",
    "Leon",
    "Sofia",
    "Hugo",
    "Isla",
    "Oscar",
    "Amelia",
    "Elias",
    "Chloe",
    "Mateo",
    "Hannah",
    "Finn",
    "Grace",
    "Arjun",
    "Yuki",
    "Priya",
    "Lena",
    "Jonas",
    "Camille",
    "Marco",
    "Freya",
    "Tom",
    "Nora",
    "Sam",
    "Aisha",
    "Ben",
    "Clara",
    "Daniel",
    "Elena",
    "Felix",
    "Giulia",
    "Henrik",
    "Ines",
    "Jack",
    "Kenji",
    "Laura",
    "Max",
    "Nina",
    "Omar",
    "Paula",
    "Rosa",
    "Theo",
    "Vera",
    "Zoe",
)

EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.org", "example.net", "mail.example.com")

#: Review titles by rating (1..5).
REVIEW_TITLES: dict[int, tuple[str, ...]] = {
    1: ("Very disappointed", "Not as described", "Would not buy again", "Fell apart quickly", "Returned it"),
    2: ("Not great", "Expected more", "Mediocre quality", "Looks cheaper than in the photos", "Meh"),
    3: ("It's okay", "Decent for the price", "Mixed feelings", "Does the job", "Average"),
    4: ("Really nice", "Good value", "Happy with it", "Nearly perfect", "Solid choice"),
    5: ("Love it!", "Exactly what I wanted", "Excellent quality", "Best purchase this year", "Highly recommend"),
}

#: Review sentences by sentiment; {noun}, {colour}, {material}, {use}, {brand}, {feature} are filled in.
REVIEW_SENTENCES: dict[str, tuple[str, ...]] = {
    "neg": (
        "The {material} feels thin and cheap.",
        "The {colour} looked nothing like the picture.",
        "After two weeks the {noun} already showed wear.",
        "Not suitable for {use} at all.",
        "I expected better from {brand}.",
        "Sizing was way off and customer service was slow.",
        "It arrived damaged and the packaging was poor.",
        "The {feature} claim is exaggerated.",
    ),
    "mid": (
        "The {noun} is fine but nothing special.",
        "The {colour} is nice, the {material} could be better.",
        "Works for {use}, though I had hoped for more.",
        "Delivery took longer than promised.",
        "Good value if you catch it on sale.",
        "Some details feel rushed, but overall acceptable.",
    ),
    "pos": (
        "The {material} feels lovely and well made.",
        "The {colour} is even nicer in person.",
        "Perfect for {use}.",
        "{brand} got the details right, especially {feature}.",
        "Arrived quickly and well packed.",
        "I have already recommended this {noun} to friends.",
        "Great quality for the price.",
        "I use it almost every day.",
    ),
}

#: Words a shopper types into the search box, combined with category nouns and colours.
SEARCH_MODIFIERS: tuple[str, ...] = ("", "cheap", "best", "gift", "sale", "new", "premium", "small", "large")
